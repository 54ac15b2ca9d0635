"""The instruct view's ``Dataset.map`` function: ``InstructRenderer`` renders unified Arrow tables
into instruction Arrow tables, plain records entirely with numpy and Arrow (answers included), and
hands the other records to the per-record loop it inherits (``record_loop.RecordLoopRenderer``).
Both give byte-identical rows; the tests compare them. ``render_records`` renders records given as
dicts with the same renderer."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TASK_COLUMN
from .arrow_columns import _field, _gold_items, _joined
from .negatives import record_tables
from .record_loop import RecordLoopRenderer
from .templates import (
    INSTRUCT_COLUMNS,
    INSTRUCT_SCHEMA,
    InstructOptions,
    describe,
    gc_paused,
    hash64,
    row_hashes,
    seeded_hash,
    template_placeholders,
)


class InstructRenderer(RecordLoopRenderer):
    """Renders unified Arrow tables into instruction Arrow tables: the ``Dataset.map`` function of
    the instruct view (``batched=True`` on an ``arrow``-formatted dataset), and the core of
    ``render_records``.

    Rows of the same label batch share their instruction, their empty answer and their ``schema``
    list; the columns copied from the record (``record_id``, ``corpus``, ``input``) are Arrow
    ``take``s; row ids, templates and negatives are computed for a whole table with numpy. Plain
    records are rendered entirely with numpy and Arrow, answers included (``_render_train``,
    ``_render_evaluation``; EEA rows take a short loop per event); the other records (all-empty
    training records, labels outside the schema, nulls, relations with several qualifiers) by
    the per-record loop (``_loop_rows``), which is also the reference the tests compare with."""

    def __init__(self, split: str, schema: dict, options: Optional[InstructOptions] = None, stats: Optional[dict] = None):
        super().__init__(split, schema, options, stats)
        self.evaluation_parts: dict = {}  # task -> _evaluation_parts
        self.fast_tasks = {task: self._fast_parts(task) for task in ("NER", "RE", "EE")}

    # -- the Dataset.map function
    def __call__(self, table: pa.Table) -> pa.Table:
        return self.render(table)

    def __getstate__(self):  # sent to map's worker processes (and hashed for its fingerprint) without caches
        return dict(self.__dict__, batches={}, eval_batches={}, evaluation_parts={}, suffixes={}, suffix_hashes=np.zeros(0, dtype=np.uint64))

    # -- a table
    def render(self, table: pa.Table) -> pa.Table:
        with gc_paused():
            return self._render(table)

    def _template_parts(self, task: str, roles: dict) -> Optional[dict]:
        """Each template of ``task`` cut around its one ``{schema}`` placeholder, and each schema
        label as the instruction lists it; None when a template is not that simple."""
        prefixes, suffixes = [], []
        for template in self.candidates[task]:
            text = template["text"]
            if template_placeholders(text) != {"schema"} or text.count("{schema}") != 1 or "{{schema}}" in text:
                return None
            before, after = text.split("{schema}")
            prefixes.append(before.format())  # (unescapes {{ and }})
            suffixes.append(after.format())
        return {
            "task": task,
            "described": pa.array([describe([label], self.display, roles, self.options.language) for label in self.all_labels], pa.string()),
            "prefixes": pa.array(prefixes, pa.string()),
            "suffixes": pa.array(suffixes, pa.string()),
            "template_ids": pa.array([t["id"] for t in self.candidates[task]], pa.string()),
        }

    def _fast_parts(self, task: str) -> Optional[dict]:
        """What the vectorized training rows of ``task`` need (``_fast_train_rows``), or None when
        they cannot be built that way: readable names shared by two labels, or a template (of the
        task, or of EET for EE with sub-tasks) whose only placeholder is not one ``{schema}``."""
        names = [self.display[label] for label in self.all_labels]
        if len(set(names)) != len(names) or not names:
            return None
        parts = self._template_parts(task, self.roles)  # (as the loop's _instruction: a type's roles wherever it is listed)
        subtask = self._template_parts("EET", {}) if task == "EE" and self.options.subtasks else None
        if parts is None or (task == "EE" and self.options.subtasks and subtask is None):
            return None
        keys = [orjson.dumps(name).decode() + ":" for name in names]
        return dict(
            parts,
            subtask=subtask,
            names=pa.array(names, pa.string()),
            name_keys=pa.array(keys, pa.string()),
            empty_items=pa.array([key + "[]" for key in keys], pa.string()),
        )

    def _render(self, table: pa.Table) -> pa.Table:
        if not table.num_rows:
            return INSTRUCT_SCHEMA.empty_table()
        render_task = self._render_train if self.train else self._render_evaluation
        tasks = table.column("task").to_pylist()
        distinct = list(dict.fromkeys(tasks))
        if len(distinct) == 1:
            out, rows = render_task(table, distinct[0])
        else:
            pieces = []  # a table of several tasks (render_records): each task's records apart, then merged
            for task in distinct:
                records = np.flatnonzero([t == task for t in tasks])
                out, rows = render_task(table.take(pa.array(records)), task)
                pieces.append((out, records[rows]))
            out, rows = _in_record_order(pieces)
        # Each row's input is its record's text, taken once the rows are in their final order:
        # texts are the longest column (DuEE-fin's are documents), not to be copied twice.
        return out.set_column(INSTRUCT_COLUMNS.index("input"), "input", table.column("text").take(pa.array(rows, pa.int64())))

    def _gold(self, table: pa.Table, task: str) -> "_TableGold":
        """The annotations of a table of one task, for the whole table at once (``_TableGold``)."""
        ids = table.column("id").to_pylist()
        column = table.column(TASK_COLUMN[task]).combine_chunks()
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        values = column.flatten()  # every annotation; null lists contribute nothing
        labels = _field(values, "type")
        encoded = pc.dictionary_encode(labels)
        code = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1  # (0: a null label)
        return _TableGold(
            ids, hash64(ids, self.options.seed), values, np.repeat(np.arange(table.num_rows), lengths), labels, self.ranker.schema_positions(labels), code, len(encoded.dictionary) + 1
        )

    def _fast_members(self, gold: "_TableGold", task: str, unfit_records: np.ndarray) -> Optional[tuple]:
        """``(records, (items, triggers))``: the records whose rows the vectorized path can build
        (table positions; not ``unfit_records``, nor those with a gold label outside the schema or
        an item ``_gold_items`` cannot assemble), and their items for ``_gold_members`` (None
        without annotations); None if the task's templates or names rule the path out."""
        if self.fast_tasks.get(task) is None:
            return None
        n = len(gold.ids)
        if not len(gold.record_of):
            return np.flatnonzero(~unfit_records), None
        items, triggers, item_ok = _gold_items(gold.values, task)
        unfit = ~item_ok | (gold.position < 0)
        return np.flatnonzero(~unfit_records & (np.bincount(gold.record_of[unfit], minlength=n) == 0)), (items, triggers)

    def _gold_members(self, gold: "_TableGold", task: str, records: np.ndarray, items: pa.Array, triggers: Optional[pa.Array]) -> tuple:
        """``(gold_record, gold_position, members, trigger_members)``: the gold labels of ``records``
        (table positions, in order), each record's in order of first appearance (its gold answer's
        keys): the record's index in ``records``, the label's schema position and its answer member
        ``"name":[items]`` (NER and RE items listed once per label, as the loop's answer lists; EE
        events all); for EE, the same members with triggers only (``trigger_members``, EET rows)."""
        record_of, code = gold.record_of, gold.code
        keep = np.ones(len(record_of), dtype=bool)
        if task != "EE":
            item_code = pc.fill_null(pc.dictionary_encode(items).indices, -1).to_numpy(zero_copy_only=False)
            order = np.lexsort((np.arange(len(record_of)), item_code, code, record_of))
            repeated = (np.diff(record_of[order]) == 0) & (np.diff(code[order]) == 0) & (np.diff(item_code[order]) == 0)
            keep[order[1:][repeated]] = False
        chosen = np.zeros(len(gold.ids), dtype=bool)
        chosen[records] = True
        appearance = np.argsort(gold.first, kind="stable")
        groups = appearance[chosen[gold.group_record[appearance]]]
        rank = np.full(len(gold.first), -1, dtype=np.int64)
        rank[groups] = np.arange(len(groups))
        element_group = rank[gold.group_of]
        elements = np.flatnonzero(keep & (element_group >= 0))
        elements = elements[np.argsort(element_group[elements], kind="stable")]
        counts = np.bincount(element_group[elements], minlength=len(groups))
        gold_position = gold.position[gold.first[groups]]
        name_keys = self.fast_tasks[task]["name_keys"].take(pa.array(gold_position))
        take = pa.array(elements, pa.int64())

        def members(values: pa.Array) -> pa.Array:
            return pc.binary_join_element_wise(name_keys, "[", _joined(counts, values.take(take), ","), "]", "")

        return np.searchsorted(records, gold.group_record[groups]), gold_position, members(items), members(triggers) if triggers is not None else None

    def _render_train(self, table: pa.Table, task: str) -> tuple:
        """``(rows, record of each row)`` of a training table of one task.

        The plan is made for the whole table with numpy: each record's distinct gold labels (in
        order of first appearance: its gold answer's keys), how many negatives it gets and which.
        Records whose rows the vectorized path can build (``_fast_train_rows``: gold labels all in
        the schema, answer items JSON can be assembled from) never become Python objects; the
        others (all-empty records, labels outside the schema, nulls, relations with several
        qualifiers) go through the per-record loop."""
        options, size, k = self.options, len(self.all_labels), self.options.batch_size(task)
        gold = self._gold(table, task)
        n, ids = len(gold.ids), gold.ids
        gold_count = np.bincount(gold.group_record, minlength=n)
        # How many negatives each record gets: about negative_ratio per gold label, within the room
        # its batches leave and the schema labels it lacks; an all-empty record kept: k labels,
        # beyond the cap: none and no row (-1).
        in_schema = np.bincount(gold.group_record[gold.position[gold.first] >= 0], minlength=n)
        room = -(-gold_count // k) * k - gold_count
        wanted = np.maximum(0, np.minimum(np.minimum(size - in_schema, np.ceil(options.negative_ratio * gold_count).astype(np.int64)), room))
        threshold = self.stats["empty_threshold"]
        for i in np.flatnonzero(gold_count == 0).tolist():
            wanted[i] = k if seeded_hash(options.seed, "empty", ids[i]) <= threshold else -1
        ranking = self.ranker.rank(gold.record_hashes, gold.record_of, gold.labels, int(wanted.max(initial=0)), positions=gold.position)

        pieces = []  # (rows, record of each row)
        fast = self._fast_members(gold, task, gold_count == 0)
        records = fast[0] if fast else np.zeros(0, dtype=np.int64)
        if len(records):
            gold_record, gold_position, members, trigger_members = self._gold_members(gold, task, records, *fast[1])
            subtask_members = trigger_members if self.fast_tasks[task]["subtask"] is not None else None
            pieces += self._fast_train_rows(table, task, records, gold_record, gold_position, members, subtask_members, wanted, ranking, gold.record_hashes)
            if subtask_members is not None:
                pieces.append(self._eea_rows(table, gold, records))
        return self._merged_with_loop(table, gold, records, pieces, (wanted, ranking))

    def _render_evaluation(self, table: pa.Table, task: str) -> tuple:
        """``(rows, record of each row)`` of an evaluation table of one task: every record asks for
        the whole schema in batches. A row's answer is its batch's empty answer unless the record
        has a gold label in the batch; only those answers are assembled (Arrow, as in training).
        Records with a gold label outside the schema (which get a batch more) or an item the
        vectorized path cannot assemble go through the loop."""
        gold = self._gold(table, task)
        n = len(gold.ids)
        fast = self._fast_members(gold, task, np.zeros(n, dtype=bool))
        records = fast[0] if fast else np.zeros(0, dtype=np.int64)
        pieces = []
        if len(records):
            parts, size, k = self.fast_tasks[task], len(self.all_labels), self.options.batch_size(task)
            schema = self._evaluation_parts(task)
            batches = len(schema["empty"])
            count = len(records) * batches
            table_record = np.repeat(records, batches)
            row_b = np.tile(np.arange(batches), len(records))
            outputs = schema["empty"].take(pa.array(row_b))
            if fast[1] is not None:
                gold_record, gold_position, members, _ = self._gold_members(gold, task, records, fast[1][0], None)
                # The rows holding a gold label, and the labels of each one's batch: a gold member
                # where the record has that label, the label's empty member elsewhere.
                answered = np.unique(gold_record * batches + gold_position // k)
                first = (answered % batches) * k
                lengths = np.minimum(first + k, size) - first
                element_row = np.repeat(answered, lengths)
                element_position = np.repeat(first, lengths) + np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                key = element_row // batches * size + element_position
                gold_key = gold_record * size + gold_position  # distinct, in record order
                by_key = np.argsort(gold_key, kind="stable")
                found = np.minimum(np.searchsorted(gold_key[by_key], key), max(len(gold_key) - 1, 0))
                is_gold = gold_key[by_key][found] == key
                member = np.where(is_gold, size + by_key[found], element_position)
                listed = pa.concat_arrays([parts["empty_items"], members]).take(pa.array(member))
                answers = pc.binary_join_element_wise("{", _joined(lengths, listed, ","), "}", "")
                mask = np.zeros(count, dtype=bool)
                mask[answered] = True
                outputs = pc.replace_with_mask(outputs, pa.array(mask), answers)
            suffix_of_row = np.asarray(self._suffixes(task.lower(), batches), dtype=np.int64)[row_b]
            templates = len(self.candidates[task])
            choice = (row_hashes(gold.record_hashes[table_record], self.suffix_hashes[suffix_of_row]) % np.uint64(templates)).astype(np.int64)
            rows = self._rows_table(
                table,
                table_record,
                suffix_of_row,
                task=pa.repeat(pa.scalar(task, pa.string()), count),
                instruction=schema["instructions"].take(pa.array(row_b * templates + choice)),
                output=outputs,
                template_id=schema["template_ids"].take(pa.array(choice)),
                schema=schema["names"].take(pa.array(row_b)),
            )
            pieces.append((rows, table_record))
        return self._merged_with_loop(table, gold, records, pieces)

    def _merged_with_loop(self, table: pa.Table, gold: "_TableGold", records: np.ndarray, pieces: list, plan: Optional[tuple] = None) -> tuple:
        """``pieces`` (the rows of ``records``) and the rows of the table's other records, rendered
        by the loop, merged in record order. ``plan``: training's ``(wanted, ranking)`` per record."""
        n = len(gold.ids)
        loop = np.setdiff1d(np.arange(n), records, assume_unique=True)
        if len(loop):
            subset = table if len(loop) == n else table.take(pa.array(loop))
            out, rows = self._loop_rows(subset, gold.record_hashes[loop], None if plan is None else tuple(part[loop] for part in plan))
            pieces = [*pieces, (out, loop[rows])]
        return _in_record_order(pieces)

    def _evaluation_parts(self, task: str) -> dict:
        """Per schema batch of ``task``'s evaluation rows: its empty answer, names, and
        instruction in each template (``batch * templates + template``)."""
        parts = self.evaluation_parts.get(task)
        if parts is None:
            batches, candidates = self._schema_batches(task), self.candidates[task]
            parts = self.evaluation_parts[task] = {
                "empty": pa.array([batch.empty for batch in batches], pa.binary()).cast(pa.string()),
                "names": pa.array([list(batch.names) for batch in batches], pa.list_(pa.string())),
                "instructions": pa.array([self._instruction(batch, template) for batch in batches for template in candidates], pa.string()),
                "template_ids": pa.array([template["id"] for template in candidates], pa.string()),
            }
        return parts

    def _fast_train_rows(
        self,
        table: pa.Table,
        task: str,
        records: np.ndarray,
        gold_record: np.ndarray,
        gold_position: np.ndarray,
        gold_members: pa.Array,
        subtask_members: Optional[pa.Array],
        wanted: np.ndarray,
        ranking: np.ndarray,
        record_hashes: np.ndarray,
    ) -> list:
        """The training rows of ``records`` (table positions, in order) built with numpy and Arrow:
        the rows the loop would give, as ``[(rows, record of each row)]``: the task's rows, then
        (EE with sub-tasks) their EET rows.

        ``gold_record``, ``gold_position``, ``gold_members``: each record's gold labels in order of
        first appearance (its index in ``records``, schema position, answer member). Each record's
        labels -- gold labels, then its ranked negatives -- are dealt to its batches (label ``t`` to
        batch ``t % batches``); a batch lists its labels in schema order. An answer is the members
        of its labels joined, a gold member or ``"name":[]``."""
        parts, k, size = self.fast_tasks[task], self.options.batch_size(task), len(self.all_labels)
        local = np.arange(len(records))
        gold_count = np.bincount(gold_record, minlength=len(records))
        negative_count = wanted[records]
        batches = -(-gold_count // k)
        # Every (record, label) element: its record, schema position, rank t within the record and
        # answer member (an index into [empty members of the schema..., gold members...]).
        gold_t = np.arange(len(gold_record)) - np.repeat(np.cumsum(gold_count) - gold_count, gold_count)
        taken = np.arange(ranking.shape[1])[None, :] < negative_count[:, None]
        negative_positions = ranking[records][taken]
        negative_record = np.repeat(local, negative_count)
        negative_t = gold_count[negative_record] + np.arange(len(negative_record)) - np.repeat(np.cumsum(negative_count) - negative_count, negative_count)
        element_record = np.concatenate([gold_record, negative_record])
        element_position = np.concatenate([gold_position, negative_positions])
        element_member = np.concatenate([size + np.arange(len(gold_record)), negative_positions])
        row_base = np.cumsum(batches) - batches
        element_row = row_base[element_record] + np.concatenate([gold_t, negative_t]) % batches[element_record]
        sort = np.lexsort((element_position, element_row))
        rows = int(batches.sum())
        offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(element_row, minlength=rows))]), pa.int32())
        positions = pa.array(element_position[sort])
        member_of = pa.array(element_member[sort])
        row_b = np.arange(rows) - np.repeat(row_base, batches)
        table_record = records[local.repeat(batches)]

        def rows_of(template_parts: dict, members: pa.Array) -> tuple:
            listed = lambda values: pa.ListArray.from_arrays(offsets, values)  # noqa: E731 (per row)
            answers = pc.binary_join_element_wise("{", pc.binary_join(listed(pa.concat_arrays([parts["empty_items"], members]).take(member_of)), ","), "}", "")
            row_task = template_parts["task"]
            suffix_of_row = np.asarray(self._suffixes(row_task.lower(), int(batches.max(initial=0))), dtype=np.int64)[row_b]
            hashes = row_hashes(record_hashes[table_record], self.suffix_hashes[suffix_of_row])
            choice = pa.array((hashes % np.uint64(len(template_parts["template_ids"]))).astype(np.int64))
            schema_text = pc.binary_join(listed(template_parts["described"].take(positions)), self.separator)
            out = self._rows_table(
                table,
                table_record,
                suffix_of_row,
                task=pa.repeat(pa.scalar(row_task, pa.string()), rows),
                instruction=pc.binary_join_element_wise(template_parts["prefixes"].take(choice), schema_text, template_parts["suffixes"].take(choice), ""),
                output=answers,
                template_id=template_parts["template_ids"].take(choice),
                schema=listed(parts["names"].take(positions)),
            )
            return out, table_record

        out = [rows_of(parts, gold_members)]
        if subtask_members is not None:  # EET rows: the same label batches, triggers only
            out.append(rows_of(parts["subtask"], subtask_members))
        return out

    def _eea_rows(self, table: pa.Table, gold: "_TableGold", records: np.ndarray) -> tuple:
        """The EEA rows (one per event) of ``records`` of an EE training table, and their records."""
        values, record_of = gold.values, gold.record_of
        chosen = np.zeros(len(gold.ids), dtype=bool)
        chosen[records] = True
        events = np.flatnonzero(chosen[record_of])
        take = pa.array(events)
        event_types = _field(values, "type").take(take).to_pylist()
        triggers = _field(values, "trigger", "text").take(take).to_pylist()
        arguments = _field(values, "arguments").take(take)
        counts = pc.fill_null(pc.list_value_length(arguments), 0).to_pylist()
        flat = arguments.flatten()
        roles, texts = _field(flat, "role").to_pylist(), _field(flat, "text").to_pylist()
        outputs, prompt_of_row, prompts, a = [], [], {}, 0
        for event_type, trigger, count in zip(event_types, triggers, counts):
            event_roles, output = self._eea_answer(event_type, list(zip(roles[a : a + count], texts[a : a + count])))
            a += count
            outputs.append(output)
            prompt_of_row.append(prompts.setdefault((event_type, trigger, event_roles), len(prompts)))
        # Event e of its record: row id suffix eea<e> (a fast record's events are all here, in order).
        event_record = record_of[events]
        starts = np.flatnonzero(np.r_[True, event_record[1:] != event_record[:-1]]) if len(events) else np.zeros(0, dtype=np.int64)
        e = np.arange(len(events)) - np.repeat(starts, np.diff(np.r_[starts, len(events)]))
        suffix_of_row = np.asarray(self._suffixes("eea", int(e.max(initial=-1)) + 1), dtype=np.int64)[e]
        return self._assemble(table, gold.record_hashes, event_record, suffix_of_row, outputs, np.asarray(prompt_of_row, dtype=np.int64), prompts), event_record


class _TableGold:
    """The annotations of a table of one task, flat (``record_of[j]``: annotation j's record; its
    ``labels``, schema ``position`` (-1 outside) and label ``code``), and its groups: the distinct
    (record, label) pairs, each with its record, its first annotation and its annotations."""

    def __init__(self, ids, record_hashes, values, record_of, labels, position, code, span):
        self.ids, self.record_hashes, self.values, self.record_of = ids, record_hashes, values, record_of
        self.labels, self.position, self.code = labels, position, code
        keys, self.first, self.group_of = np.unique(record_of * span + code, return_index=True, return_inverse=True)
        self.group_of = self.group_of.reshape(-1)
        self.group_record = keys // span


def _in_record_order(pieces: list) -> tuple:
    """Row tables ``[(rows, record of each row)]`` merged in record order; each record's rows stay
    in the order of the pieces, then their own."""
    if len(pieces) == 1:
        return pieces[0]
    record_of_row = np.concatenate([rows for _, rows in pieces])
    order = np.argsort(record_of_row, kind="stable")
    return pa.concat_tables([table for table, _ in pieces]).take(pa.array(order)), record_of_row[order]


def render_records(records: Iterable[dict], split: str, schema: dict, options: InstructOptions, stats: Optional[dict] = None) -> Iterator[dict]:
    """Instruction rows (dicts) for unified records (dicts), in record order: the same rows as the
    ``Dataset.map`` view, rendered by ``InstructRenderer`` a chunk of records at a time."""
    renderer = InstructRenderer(split, schema, options, stats)
    for table in record_tables(records):
        yield from renderer.render(table).to_pylist()
