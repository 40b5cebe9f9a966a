"""The descriptor database: its tables (``tables``) and the connection that writes and reads rows (``database``)."""
