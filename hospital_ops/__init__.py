"""hospital_ops: the core of the smart-hospital operations and logistics control system.

Domain types, the campus model and travel times, configuration, the store and the CLI entry.
The rooms (scheduler, robots, triage_kiosk, sim, ops_dashboard) build on this package; this
package imports none of them, except the CLI entry that mounts their sub-commands.
"""

__version__ = "0.1.0"
