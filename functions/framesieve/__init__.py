"""framesieve: index camera footage frame by frame and query it by visual tags."""
