"""The instruction view: rendering unified records into instruction rows, and parsing answers back.

Rendering (``InstructRenderer``) is a batched ``Dataset.map`` function from unified Arrow tables
to instruction Arrow tables; it is pure, so the same unified rows give byte-identical instruction
rows whatever ``num_proc`` or batch size. Everything random (the template, the order of negative
types, which empty records are kept) is a hash of the row or record id and the seed.

Schema-conditioned prompts: each row asks for a batch of types (defaults NER 6, RE 4, EE 4) and
its answer lists every asked type, absent ones as empty lists.
- Evaluation splits (anything but ``train``): the full schema in batches, no sampling.
- ``train``: the gold types plus sampled negative types (``negative_ratio`` per gold type, hard
  negatives first: types that co-occur with the gold ones in the corpus's training split), spread
  so that every row has at least one gold type. Records without any annotation give all-empty rows;
  only the ones with the smallest hashes are kept, so that all-empty rows stay within
  ``empty_cap`` of the split. EE corpora also get the sub-tasks EET (type + trigger) and EEA
  (arguments given type and trigger) in ``train``.

Answers are compact JSON objects keyed by the (readable) type names listed in the instruction:
- NER: ``{"人名":["张三"],"地名":[]}``
- RE:  ``{"作者":[{"head":"…","tail":"…","qualifiers":{"inWork":"…"}}]}``
- EE:  ``{"公司上市":[{"trigger":"…","arguments":[{"role":"…","argument":"…"}]}]}``
- EET: ``{"公司上市":["IPO"]}``;  EEA: ``{"上市公司":["…"],"披露时间":[]}``

The package, one module per concern (imports point down the list):
- ``templates``: options, loading and choosing templates, seeded hashes;
- ``negatives``: training-split statistics and the ranking of negative types;
- ``arrow_columns``: Arrow column helpers of the renderer;
- ``record_loop``: the per-record renderer (records the fast path does not take; the tests' reference);
- ``renderer``: ``InstructRenderer``, the Arrow fast path and ``Dataset.map`` function, and ``render_records``;
- ``answers``: parsing answers back (``parse_output``).
The public names stay importable from ``chinchilla_datasets.instruct``.
"""

from .answers import canonical, load_answer, parse_output, structures_of
from .negatives import NegativeRanker, corpus_stats, table_stats, train_batches
from .record_loop import RecordLoopRenderer
from .renderer import InstructRenderer, render_records
from .templates import (
    INSTRUCT_COLUMNS,
    INSTRUCT_SCHEMA,
    KNOWN_PLACEHOLDERS,
    RENDER_CHUNK,
    ROW_TASKS,
    TEMPLATE_FILES,
    TRAIN_SPLIT,
    UNIFIED_SCHEMA,
    InstructOptions,
    choose_template,
    describe,
    dump_answer,
    gc_paused,
    hash64,
    load_templates,
    mix64,
    row_hashes,
    template_placeholders,
)

__all__ = [
    "INSTRUCT_COLUMNS", "INSTRUCT_SCHEMA", "KNOWN_PLACEHOLDERS", "RENDER_CHUNK", "ROW_TASKS", "TEMPLATE_FILES",
    "TRAIN_SPLIT", "UNIFIED_SCHEMA", "InstructOptions", "InstructRenderer", "NegativeRanker", "RecordLoopRenderer",
    "canonical", "choose_template", "corpus_stats", "describe", "dump_answer", "gc_paused", "hash64", "load_answer",
    "load_templates", "mix64", "parse_output", "render_records", "row_hashes", "structures_of", "table_stats",
    "template_placeholders", "train_batches",
]
