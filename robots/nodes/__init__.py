"""rclpy node shells (import rclpy and the generated hospital_ops_interfaces; run as processes)."""
