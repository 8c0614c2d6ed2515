"""The actions the agent may take: typed, schema'd, guarded and audited.

A brain gets `tools.registry.ToolBox(ctx).bind(state)`; the tool base class and shared helpers are
in tools/base.py, the collaborators a tool receives in tools/context.py. This package init imports
nothing so that `tools.context` stays cheap to import.
"""
