"""Similar photos (issue #27): "parecidas" / "like this one", the catalog's "Similar".

`hashes` (perceptual hashes of a thumbnail) and `index` (their multi-index-hashing table,
sql/019) find candidates without scanning a catalog; `verify` confirms the same photo by
its features; `documents` finds the same document by its text; `finder` puts the three
kinds together for one owner; `intent` recognises the request; `tool` is the
`find_similar` tool's work and the offline rules' wording.
"""
