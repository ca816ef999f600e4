"""All-or-nothing scene changes: a failed step removes what it added, and result nodes are replaced, not piled up."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def _node_ids(scene) -> set[str]:
    nodes = scene.GetNodes()
    return {nodes.GetItemAsObject(i).GetID() for i in range(nodes.GetNumberOfItems())}


@contextlib.contextmanager
def all_or_nothing(scene) -> Iterator[None]:
    """Run a block that adds nodes; if it raises, remove every node it added, so the scene is as before."""
    before = _node_ids(scene)
    try:
        yield
    except BaseException:
        for node_id in _node_ids(scene) - before:
            node = scene.GetNodeByID(node_id)
            if node is not None:
                scene.RemoveNode(node)
        raise


def replace_referenced(owner, role: str, node) -> None:
    """Make ``node`` the one ``owner`` references as ``role`` (None: none), removing the node it replaces."""
    scene = owner.GetScene()
    old = owner.GetNodeReference(role)
    owner.SetNodeReferenceID(role, node.GetID() if node is not None else None)
    if old is not None and old is not node:
        scene.RemoveNode(old)
