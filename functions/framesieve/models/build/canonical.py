"""Rewrite an ONNX graph into a canonical form so that a conversion has a stable checksum.

tf2onnx 1.16.1 names the tensors it creates from a process-wide counter and
visits nodes in an order that changes from run to run (``PYTHONHASHSEED`` and
single-threaded TensorFlow do not help), so two conversions of one frozen graph
differ byte for byte while computing the same function. Here every tensor is
renamed after a hash of what computes it (operator, attributes, the hashes of
its inputs, constants by content), nodes computing the same value are merged,
and nodes are sorted topologically with the hash as tie-break. Subgraphs and
symbolic dimensions, which tf2onnx also numbers, get names from their
position, and a ``Loop``'s reorderable outputs are put in a fixed order. The
bytes then depend only on the computation, so the build can pin their sha256.

Merging equal nodes is only sound for deterministic operators, so a graph
with random operators is rejected.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict

import onnx

_HASH_CHARS = 20
_RANDOM_OPERATORS = frozenset(
    {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}
)


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _tensor_digest(tensor: onnx.TensorProto) -> str:
    anonymous = onnx.TensorProto()
    anonymous.CopyFrom(tensor)
    anonymous.name = ""
    anonymous.doc_string = ""
    return hashlib.sha256(anonymous.SerializeToString(deterministic=True)).hexdigest()


class _Scope:
    """Key and new name of every tensor visible in one graph, outer scopes included."""

    def __init__(self, outer: "_Scope | None") -> None:
        self.keys: dict[str, str] = dict(outer.keys) if outer else {}
        self.names: dict[str, str] = dict(outer.names) if outer else {}

    def bind(self, old: str, key: str, new: str) -> None:
        self.keys[old] = key
        self.names[old] = new


def _attribute_key(attribute: onnx.AttributeProto, scope: _Scope, prefix: str) -> str:
    if attribute.type == onnx.AttributeProto.GRAPH:
        graph_key = _canonicalize_graph(attribute.g, scope, f"{prefix}_{attribute.name}", keep_io=False)
        return _digest(graph_key, [output.name for output in attribute.g.output])

    if attribute.type == onnx.AttributeProto.GRAPHS:
        graph_keys = [
            _canonicalize_graph(graph, scope, f"{prefix}_{attribute.name}{i}", keep_io=False)
            for i, graph in enumerate(attribute.graphs)
        ]
        return _digest(graph_keys, [[output.name for output in graph.output] for graph in attribute.graphs])

    if attribute.type == onnx.AttributeProto.TENSOR:
        attribute.t.name = ""
    return hashlib.sha256(attribute.SerializeToString(deterministic=True)).hexdigest()


def _loop_body(node: onnx.NodeProto) -> onnx.GraphProto:
    return next(attribute.g for attribute in node.attribute if attribute.name == "body")


def _permute(values: list, first: int, order: list[int]) -> list:
    """Reorder ``values[first:first + len(order)]`` by ``order``, leaving the rest in place."""
    picked = [values[first + i] for i in order]
    return values[:first] + picked + values[first + len(order):]


def _reorder_value_infos(container, permuted: list[onnx.ValueInfoProto]) -> None:
    copies = [onnx.ValueInfoProto() for _ in permuted]
    for target, source in zip(copies, permuted):
        target.CopyFrom(source)
    del container[:]
    container.extend(copies)


def _permute_loop_carried(node: onnx.NodeProto, order: list[int]) -> None:
    """Reorder a Loop's loop-carried values: node inputs 2.., body inputs 2.., body outputs 1.., node outputs 0.."""
    body = _loop_body(node)
    node.input[:] = _permute(list(node.input), 2, order)
    node.output[:] = _permute(list(node.output), 0, order)
    _reorder_value_infos(body.input, _permute(list(body.input), 2, order))
    _reorder_value_infos(body.output, _permute(list(body.output), 1, order))


def _sort_loop_scan_outputs(node: onnx.NodeProto) -> str:
    """Order a Loop's scan outputs by the name of the body tensor behind each.

    Scan outputs are the body outputs after the condition and the N
    loop-carried values, and Loop output k matches body output k + 1, so both
    lists are permuted together.
    """
    body = _loop_body(node)
    first_scan = 1 + (len(node.input) - 2)
    scan_names = [output.name for output in body.output][first_scan:]
    order = sorted(range(len(scan_names)), key=lambda i: scan_names[i])

    _reorder_value_infos(body.output, _permute(list(body.output), first_scan, order))
    node.output[:] = _permute(list(node.output), first_scan - 1, order)
    return _digest([output.name for output in body.output])


def _canonicalize_loop(node: onnx.NodeProto, scope: _Scope, prefix: str) -> str:
    """Canonicalize a Loop node in place and return the key of its body.

    tf2onnx emits a Loop's scan outputs, and its loop-carried values that start
    from equal constants, in varying order. Every order of equal-start carried
    values is tried and the one whose body has the smallest key is kept.
    """
    carried = len(node.input) - 2
    groups: dict[str, list[int]] = defaultdict(list)
    for position in range(carried):
        name = node.input[2 + position]
        groups[scope.keys[name] if name else ""].append(position)

    best_key, best_node = "", None
    for choice in itertools.product(*(itertools.permutations(group) for group in groups.values())):
        order = list(range(carried))
        for group, permuted in zip(groups.values(), choice):
            for slot, position in zip(group, permuted):
                order[slot] = position

        trial = onnx.NodeProto()
        trial.CopyFrom(node)
        _permute_loop_carried(trial, order)
        body_key = _canonicalize_graph(_loop_body(trial), scope, f"{prefix}_body", keep_io=False)
        key = _digest(body_key, _sort_loop_scan_outputs(trial))
        if best_node is None or key < best_key:
            best_key, best_node = key, trial

    node.CopyFrom(best_node)
    return best_key


def _canonicalize_graph(graph: onnx.GraphProto, outer: _Scope | None, prefix: str, keep_io: bool) -> str:
    """Rewrite ``graph`` in place and return a key of its nodes.

    ``keep_io`` keeps the top graph's input and output names.
    """
    scope = _Scope(outer)
    output_names = {output.name for output in graph.output} if keep_io else set()

    for i, graph_input in enumerate(graph.input):
        if keep_io:
            scope.bind(graph_input.name, _digest("input", graph_input.name), graph_input.name)
        else:
            scope.bind(graph_input.name, _digest(prefix, "input", i), f"{prefix}_in{i}")

    initializers: dict[str, onnx.TensorProto] = {}
    for initializer in graph.initializer:
        key = _tensor_digest(initializer)
        new_name = f"c_{key[:_HASH_CHARS]}"
        scope.bind(initializer.name, key, new_name)
        initializers.setdefault(new_name, initializer)

    # Nodes in a valid ONNX graph are already in topological order, so every
    # input key is known when its consumer is reached.
    kept: dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        if node.op_type in _RANDOM_OPERATORS:
            raise ValueError(f"node {node.name!r} is a random {node.op_type}; its outputs cannot be merged by content")
        input_keys = [scope.keys[name] if name else "" for name in node.input]
        attribute_prefix = f"{prefix}_{_digest(node.op_type, input_keys)[:8]}"
        if node.op_type == "Loop" and not node.domain:
            attribute_keys = [("body", _canonicalize_loop(node, scope, attribute_prefix))]
        else:
            attribute_keys = [
                (attribute.name, _attribute_key(attribute, scope, attribute_prefix))
                for attribute in sorted(node.attribute, key=lambda a: a.name)
            ]
        # The scope prefix keeps a subgraph's names apart from equal values in
        # other scopes, because ONNX forbids reusing a name across nested graphs.
        node_key = _digest(prefix, node.op_type, node.domain, input_keys, attribute_keys)

        for index, output in enumerate(node.output):
            if not output:
                continue
            output_key = _digest(node_key, index)
            new_name = output if output in output_names else f"t_{output_key[:_HASH_CHARS]}"
            scope.bind(output, output_key, new_name)

        node.input[:] = [scope.names[name] if name else "" for name in node.input]
        node.output[:] = [scope.names[name] if name else "" for name in node.output]
        node.name = f"n_{node_key[:_HASH_CHARS]}"
        node.doc_string = ""
        kept.setdefault(node_key, node)

    ordered = _topological_order(kept)
    del graph.node[:]
    graph.node.extend(ordered)

    del graph.initializer[:]
    graph.initializer.extend(initializers[name] for name in sorted(initializers))
    for name, initializer in zip(sorted(initializers), graph.initializer):
        initializer.name = name

    for graph_output in graph.output:
        graph_output.name = scope.names[graph_output.name]
    for i, graph_input in enumerate(graph.input):
        graph_input.name = graph_input.name if keep_io else f"{prefix}_in{i}"
    del graph.value_info[:]
    graph.doc_string = ""
    if not keep_io:
        # tf2onnx names subgraphs from its counter as well.
        graph.name = prefix

    # The output order is left out because a Loop reorders its body's outputs
    # afterwards. Callers add the final output names to the key.
    return _digest(prefix, sorted(kept))


def _topological_order(nodes: dict[str, onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Kahn's algorithm over the nodes keyed by hash, always taking the smallest ready key."""
    producer = {output: key for key, node in nodes.items() for output in node.output if output}
    waiting_on: dict[str, set[str]] = {}
    consumers: dict[str, list[str]] = defaultdict(list)
    for key, node in nodes.items():
        needs = {producer[name] for name in _referenced_names(node) if name in producer and producer[name] != key}
        waiting_on[key] = needs
        for need in needs:
            consumers[need].append(key)

    ready = sorted(key for key, needs in waiting_on.items() if not needs)
    ordered: list[onnx.NodeProto] = []
    while ready:
        key = ready.pop(0)
        ordered.append(nodes[key])
        for consumer in consumers[key]:
            waiting_on[consumer].discard(key)
            if not waiting_on[consumer]:
                ready.append(consumer)
        ready.sort()

    if len(ordered) != len(nodes):
        raise ValueError("ONNX graph has a cycle; cannot order its nodes")
    return ordered


def _referenced_names(node: onnx.NodeProto) -> set[str]:
    """Inputs of ``node`` plus outer-scope names its subgraphs read."""
    names = set(node.input)
    for attribute in node.attribute:
        graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
        for graph in graphs:
            for inner in graph.node:
                names |= _referenced_names(inner)
    return names


def _rename_symbolic_dimensions(graph: onnx.GraphProto, names: dict[str, str]) -> None:
    """Rename ``dim_param`` symbols (tf2onnx numbers them ``unk__N``) in order of first use."""
    for value in [*graph.input, *graph.output]:
        for dimension in value.type.tensor_type.shape.dim:
            if dimension.HasField("dim_param"):
                dimension.dim_param = names.setdefault(dimension.dim_param, f"dim{len(names)}")

    for node in graph.node:
        for attribute in node.attribute:
            graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
            for subgraph in graphs:
                _rename_symbolic_dimensions(subgraph, names)


def canonicalize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of ``model`` whose serialization depends only on what it computes."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    _canonicalize_graph(result.graph, None, "g", keep_io=True)
    _rename_symbolic_dimensions(result.graph, {})
    onnx.checker.check_model(result)
    return result
