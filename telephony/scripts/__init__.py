"""Sales scripts: the model, validation, rendering, matching and variants (issue 7).

All pure (no I/O but reading the shipped library files):

- `model` — the data contract every piece shares.
- `template` — `{namespace.name}` placeholders rendered as plain text (browser twin:
  `agent_ui/script_template.js`).
- `validate` — `parse(raw) -> Script` or `ScriptRejected(problems)`; `warnings(script)`.
- `guidance` — the playbook's rules during a call: next stage, question counter, price
  advice, contacts before price, the pre-filled summary, what an outcome needs.
- `matching` — which script a call gets, and why; `choose` adds release and variant.
- `variants` — stable weighted assignment per call, Wilson intervals, per-variant figures.
- `library` — the default scripts (Turkish and English) and YAML/JSON import and export.
"""
