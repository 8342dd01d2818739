"""schemathesis hooks for scripts/fuzz (loaded through SCHEMATHESIS_HOOKS=hooks).

The one media type our API takes that schemathesis cannot write by itself: NDJSON, the body
of POST /api/memory/import. The schema describes one line (a DocumentRecord); each generated
value, valid or not, becomes that one line.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    return (json.dumps(value) + "\n").encode()
