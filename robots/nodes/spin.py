"""The one way every node process runs: init, spin until Ctrl-C / SIGTERM / ROS shutdown, and
tear down in order (executor, node, ROS context, then the caller's own resources)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node

N = TypeVar("N", bound=Node)


def spin_node(
    argv: Sequence[str],
    make: Callable[[], N],
    executor: Callable[[], Executor],
    *,
    started: Callable[[N], None] | None = None,
    stopping: Callable[[N], None] | None = None,
    finally_: Callable[[], None] | None = None,
) -> int:
    """Build the node with ``make`` (after ``rclpy.init``), call ``started(node)``, spin it on a
    fresh executor, and on the way out call ``stopping(node)`` before the node is destroyed and
    ``finally_()`` last (e.g. closing the store). Returns the process exit status, 0."""
    rclpy.init(args=list(argv))
    node: N | None = None
    ex = executor()
    try:
        node = make()
        if started is not None:
            started(node)
        ex.add_node(node)
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ex.shutdown(timeout_sec=2.0)
        if node is not None:
            if stopping is not None:
                stopping(node)
            node.destroy_node()
        rclpy.try_shutdown()
        if finally_ is not None:
            finally_()
    return 0
