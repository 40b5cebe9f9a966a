"""Questions to the database: the filter language, the levels, the configuration view, the hop table, exports, stored bands."""
