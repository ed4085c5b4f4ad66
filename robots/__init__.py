"""ROS 2 edge of the hospital logistics stack: the robots' interface package, their drivers and lifts.

Pure-Python cores (no rclpy; tested with a fake clock):

- :mod:`robots.driver_core` — a simulated TUG/HOSPI-class delivery robot: drives campus routes at
  its speed and a time scale, calls lifts, drains and charges its battery, keeps locked drawers
  that open only with the task's PIN or an authorised badge, producing custody events.
- :mod:`robots.lifts` — the lift manager: every service lift is a shared resource with a capacity
  and a FIFO queue; lifts can be taken out of service and waiting robots moved to another lift.
- :mod:`robots.fleet` — the fleet tracker: RobotState heartbeats, robots lost after 5 s of silence.
- :mod:`robots.credentials` — PIN hashing (argon2id) and checks.

The rclpy node shells live in :mod:`robots.nodes` and import ROS only there.
"""
