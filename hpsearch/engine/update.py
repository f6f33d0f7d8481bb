"""One trial update as one unit: user attrs, intermediate values and the state change of a trial, written
together, or not at all when the trial has moved on meanwhile.

- a journal file: one append under the journal's lock (storage.Handle.batch), the state change last, so no
  reader ever sees a trial finished without its result;
- a database: one transaction with the trial's row locked; on SQLite and PostgreSQL the attrs are one
  INSERT ... ON CONFLICT statement and the intermediate values another, elsewhere RDBStorage's own per-item
  helpers write them. These are Optuna internals: should a future Optuna lack them, each write goes through
  the public storage methods instead (a transaction each, about 4x slower on SQLite).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from hpsearch.engine.storage import Handle


def update_trial(h: Handle, trial_id: int, attrs: Mapping[str, Any], state, values: Sequence[float] | None = None,
                 intermediate: Mapping[int, float] | None = None) -> bool:
    """Set user `attrs`, `intermediate` values (step -> value) and `state` (with `values`) of a trial; False,
    with nothing written, when the trial is finished already or, for a claim (`state` RUNNING), not WAITING."""
    from optuna.trial import TrialState

    intermediate = intermediate or {}
    if h.backend is not None:
        with h.batch():
            t = h.storage.get_trial(trial_id)  # read under the journal's lock: still true when the append lands
            if t.state.is_finished() or (state == TrialState.RUNNING and t.state != TrialState.WAITING):
                return False
            _each(h.storage, trial_id, attrs, state, values, intermediate)
        return True
    rdb = _rdb_helpers(h.storage)
    if rdb is not None:
        return _transaction(h.storage, rdb, trial_id, attrs, state, values, intermediate)
    import optuna

    try:
        if state == TrialState.RUNNING:
            return h.storage.set_trial_state_values(trial_id, state) and \
                _each(h.storage, trial_id, attrs, None, None, intermediate)
        return _each(h.storage, trial_id, attrs, state, values, intermediate)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def _each(storage, trial_id: int, attrs, state, values, intermediate) -> bool:
    """One public storage call per item, the state change last."""
    for k, v in attrs.items():
        storage.set_trial_user_attr(trial_id, k, v)
    for step, v in intermediate.items():
        storage.set_trial_intermediate_value(trial_id, step, v)
    if state is not None:
        storage.set_trial_state_values(trial_id, state, values)
    return True


def _rdb_helpers(storage):
    """(models, scoped session maker) when `storage` is an RDBStorage whose write helpers are there, else None."""
    from optuna.storages import RDBStorage

    if not isinstance(storage, RDBStorage):
        return None
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:  # pragma: no cover - another Optuna layout
        return None
    needed = ("_set_trial_attr_without_commit", "_set_trial_intermediate_value_without_commit",
              "_set_trial_value_without_commit", "scoped_session")
    return (models, _create_scoped_session) if all(hasattr(storage, n) for n in needed) else None


def _transaction(storage, rdb, trial_id: int, attrs, state, values, intermediate) -> bool:
    from datetime import datetime

    import sqlalchemy.exc
    from optuna.trial import TrialState

    models, session_of = rdb
    try:
        with session_of(storage.scoped_session) as session:
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            if trial.state.is_finished() or (state == TrialState.RUNNING and trial.state != TrialState.WAITING):
                return False
            if not _upsert_rows(storage, session, models, trial_id, attrs, intermediate):
                for k, v in attrs.items():
                    storage._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial_id, k, v)
                for step, v in intermediate.items():
                    storage._set_trial_intermediate_value_without_commit(session, trial_id, step, v)
            for objective, v in enumerate(values or ()):
                storage._set_trial_value_without_commit(session, trial, objective, v)
            trial.state = state
            if state == TrialState.RUNNING:
                trial.datetime_start = datetime.now()
            if state.is_finished():
                trial.datetime_complete = datetime.now()
    except sqlalchemy.exc.IntegrityError:
        return False
    return True


def _upsert_rows(storage, session, models, trial_id: int, attrs, intermediate) -> bool:
    """SQLite (3.24+) and PostgreSQL: all the attrs in one INSERT ... ON CONFLICT statement, all the intermediate
    values in another (Optuna's helpers take two or three statements per item). False: another database."""
    import json
    import sqlite3

    name = storage.engine.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite" and sqlite3.sqlite_version_info >= (3, 24, 0):
        from sqlalchemy.dialects.sqlite import insert
    else:
        return False
    ua, iv = models.TrialUserAttributeModel, models.TrialIntermediateValueModel
    if attrs:
        stmt = insert(ua).values([{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
                                  for k, v in attrs.items()])
        session.execute(stmt.on_conflict_do_update(index_elements=[ua.trial_id, ua.key],
                                                   set_={"value_json": stmt.excluded.value_json}))
    if intermediate:
        rows = []
        for step, v in intermediate.items():
            stored, kind = iv.intermediate_value_to_stored_repr(v)
            rows.append({"trial_id": trial_id, "step": step, "intermediate_value": stored,
                         "intermediate_value_type": kind})
        stmt = insert(iv).values(rows)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[iv.trial_id, iv.step], set_={"intermediate_value": stmt.excluded.intermediate_value,
                                                         "intermediate_value_type": stmt.excluded.intermediate_value_type}))
    return True
