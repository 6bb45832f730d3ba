"""The Textual terminal UI. The only package that imports `textual`.

`run_tui(app_context, ...)` in `alpha01.tui.app` is what `alpha01`, `alpha01 run` and
`alpha01 demo` call.
"""
