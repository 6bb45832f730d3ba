"""The message pipeline: intake → customer → rules → retrieval → generation → guard → pacing.

Each stage is a small module with one entry function that takes explicit inputs and returns a
`Decision` with its reason. `Pipeline.decide` runs the stages that need no database and returns
the first terminal decision together with the trace of every stage it ran.
"""
