"""Call recordings: started on the caller's channel, fetched and checked after the call,
kept under a date-partitioned root, purged by policy, served only to those allowed."""
