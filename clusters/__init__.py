"""The Smart Energy specification as code: cluster definitions, payload schemas
and the MP184 mapping table.  Pure: no I/O, no asyncio."""
