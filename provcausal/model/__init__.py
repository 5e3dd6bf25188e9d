"""The record model: everything provcausal knows about the shape of its records, in one package.

- :mod:`~provcausal.model.ids` — stable ids derived from the source;
- :mod:`~provcausal.model.times` — every time parse and format;
- :mod:`~provcausal.model.prov` — the PROV document builder and the PROV attribute names;
- :mod:`~provcausal.model.flowcept` — FlowCept ``workflows``/``tasks`` documents: the record
  types, and accessors for what provcausal keeps under its own metadata key;
- :mod:`~provcausal.model.convert` — PROV ⇄ FlowCept, validating what it reads;
- :mod:`~provcausal.model.links` — FlowCept's own lineage rules;
- :mod:`~provcausal.model.names` — which workflow names and labels are usable.

The package imports only ``prov``, :mod:`provcausal.errors` and the standard library, so every
other layer (importers, stores, queries, analysis, CLI) can depend on it and it on none of them.
Submodules are imported explicitly (``from provcausal.model import flowcept``); this file
imports nothing, so that a store does not load ``prov`` just to read a field.
"""
