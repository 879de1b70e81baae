"""Every use of Keras Tuner beyond its documented API, in one place.

Checked against keras-tuner 1.4.8 (pyproject.toml pins keras-tuner below 1.5): the names below
are internals (`keras_tuner.src.*`, oracle attributes and private methods) that a new minor
version may change. The one other place is search/engine/bohb.py: BOHB's oracle subclasses
HyperbandOracle and overrides its `_random_values()` hook (reading `_seed_state`, `_duplicate`
and `_max_collisions`), which cannot live elsewhere than in the subclass; its docstring lists them.
Anything else in this project uses `keras_tuner.*` only.
"""

from __future__ import annotations

import copy
import json

from results.run import atomic, layout

CHECKED_WITH = "1.4.8"
# How a FailedTrialError's line starts in a trial's message (which holds the whole traceback).
FAILED_TRIAL_PREFIX = "keras_tuner.src.errors.FailedTrialError: "


def quiet_failed_trials() -> None:
    """Keras Tuner prints every failed trial's traceback; the display reports failures itself."""
    from keras_tuner.src import config

    config.DEBUG = False


# Keras Tuner's state files (named in results/run/layout.py): oracle.json, <tuner_id>.json, trial_<id>/trial.json.
ORACLE_FILE = layout.ORACLE
TRIAL_FILE = layout.KT_TRIAL
TRIAL_GLOB = layout.TRIAL_PREFIX + "*"
COPY_SUFFIX = layout.COPY_SUFFIX
# What Oracle.get_state() writes (HyperbandOracle adds its brackets), and the types read back.
ORACLE_STATE = {
    "ongoing_trials": dict,
    "hyperparameters": dict,
    "start_order": list,
    "end_order": list,
    "run_times": dict,
    "retry_queue": list,
    "seed_state": int,
    "tried_so_far": list,
    "id_to_hash": dict,
    "display": dict,
}
TRIAL_STATE = ("trial_id", "hyperparameters", "metrics", "score", "best_step", "status", "message")
# BaseTuner.get_state(): a tuner keeps no state of its own, only the file that says "reload".
TUNER_STATE: dict = {}


def make_writes_atomic() -> None:
    """Keras Tuner writes oracle.json and trial.json in place; a kill mid-write would leave a run
    that cannot resume. Route its JSON writer through the atomic one, which also keeps a copy of
    each file (search/engine/repair.py restores a damaged one from it)."""
    from keras_tuner.src import utils

    if getattr(utils.save_json, "_atomic", False):
        return

    def save_json(path, obj):
        text = json.dumps(obj)
        atomic.write_text(path, text)
        atomic.write_text(str(path) + COPY_SUFFIX, text)
        return text

    save_json._atomic = True
    utils.save_json = save_json


def holds_trials(oracle) -> bool:
    """Whether `oracle` holds the trials itself (False for a distributed worker's client of the chief's)."""
    return hasattr(oracle, "trials")


def trials_in_start_order(oracle) -> list:
    """The oracle's trials, in the order they started."""
    return [oracle.trials[trial_id] for trial_id in list(oracle.start_order)]


def trials_in_end_order(oracle) -> list:
    """The oracle's ended trials, in the order they ended."""
    return [oracle.trials[trial_id] for trial_id in list(oracle.end_order)]


def set_trial_limit(oracle, limit: int | None) -> None:
    """Cap the trials the oracle hands out (Hyperband takes no max_trials argument, yet honours it)."""
    oracle.max_trials = limit


def stop_new_trials(oracle) -> None:
    """Hand out no new trial: the oracle stops once it holds max_trials of them (one at least,
    or there would be nothing to retrain)."""
    oracle.max_trials = max(1, len(oracle.trials))


def hyperband_trials_per_iteration(oracle) -> int | None:
    """How many trials one Hyperband iteration of `oracle` runs (None for other oracles)."""
    import keras_tuner as kt

    if not isinstance(oracle, kt.oracles.HyperbandOracle):
        return None
    return sum(
        oracle._get_size(bracket, round_num)
        for bracket in range(oracle._get_num_brackets())
        for round_num in range(oracle._get_num_rounds(bracket))
    )


def oracle_problem(state) -> str | None:
    """Why `state` (oracle.json's content) is not an oracle's state, or None."""
    wrong = [k for k, kind in ORACLE_STATE.items() if not isinstance(state.get(k), kind)]
    if wrong:
        return f"no valid {', '.join(repr(k) for k in wrong)} in it"
    import keras_tuner as kt

    try:
        kt.HyperParameters.from_config(copy.deepcopy(state["hyperparameters"]))  # it changes what it reads
    except Exception as e:  # Keras Tuner raises anything from KeyError to TypeError on a bad config
        return f"its hyperparameters do not load ({type(e).__name__}: {e})"
    return None


def trial_problem(state, trial_id: str) -> str | None:
    """Why `state` (a trial.json's content) is not the state of trial `trial_id`, or None."""
    missing = [k for k in TRIAL_STATE if k not in state]
    if missing:
        return f"no {', '.join(repr(k) for k in missing)} in it"
    if state["trial_id"] != trial_id:
        return f"it holds trial {state['trial_id']!r}, not {trial_id!r}"
    from keras_tuner.src.engine import trial as trial_module

    try:
        trial_module.Trial.from_state(copy.deepcopy(state))
    except Exception as e:  # as above
        return f"Keras Tuner cannot load it ({type(e).__name__}: {e})"
    return None


def to_rerun(state: dict) -> dict:
    """A trial's state made ready to run again with the same hyperparameters: no metrics, no score."""
    return {**state, "metrics": {"metrics": {}}, "score": None, "best_step": 0, "status": "RUNNING", "message": None}


def lost_trial(trial_id: str, hyperparameters: dict, why: str) -> dict:
    """The state of a trial whose hyperparameters are lost: FAILED, with the oracle's space and `why`."""
    return {
        "trial_id": trial_id,
        "hyperparameters": {"space": hyperparameters.get("space", []), "values": {}},
        "metrics": {"metrics": {}},
        "score": None,
        "best_step": 0,
        "status": "FAILED",
        "message": why,
    }


def trial_ids_in(state: dict) -> set[str]:
    """Every trial id an oracle's state refers to."""
    ids = set(state["start_order"]) | set(state["end_order"]) | set(state["retry_queue"])
    ids |= set(state["ongoing_trials"].values()) | set(state["id_to_hash"])
    for bracket in state.get("brackets") or []:  # Hyperband
        for round_ in bracket.get("rounds", []):
            ids |= {info["id"] for info in round_ if isinstance(info, dict) and "id" in info}
    return {str(i) for i in ids}


def schedule_rerun(state: dict, trial_id: str) -> None:
    """Put trial `trial_id` back in the oracle's queue (Keras Tuner runs queued trials first)."""
    if trial_id in state["end_order"]:
        state["end_order"].remove(trial_id)
    if trial_id not in state["retry_queue"] and trial_id not in state["ongoing_trials"].values():
        state["retry_queue"].append(trial_id)


# --- the distributed engine (keras_tuner.src.distribute), checked against 1.4.8 ---------------------
# What the chief's gRPC servicer calls on its oracle for a worker's request.
WORKER_REQUESTS = (
    "get_space",
    "update_space",
    "create_trial",
    "update_trial",
    "end_trial",
    "get_trial",
    "get_best_trials",
)


def set_client_timeout(seconds: float) -> None:
    """How long a worker's OracleClient waits for the chief on each request (Keras Tuner: one hour)."""
    from keras_tuner.src.distribute import oracle_client

    oracle_client.TIMEOUT = seconds


def ongoing_trials(oracle) -> dict[str, str]:
    """{tuner id: the trial id it runs} of the chief's oracle (a copy: its server thread changes it)."""
    return {tuner_id: trial.trial_id for tuner_id, trial in dict(oracle.ongoing_trials).items()}


def listen_to_workers(oracle, heard) -> None:
    """Call `heard(method name, args)` before the chief's oracle answers each worker request."""
    for name in WORKER_REQUESTS:
        method = getattr(oracle, name)

        def answer(*args, _name=name, _method=method, **kwargs):
            heard(_name, args)
            return _method(*args, **kwargs)

        setattr(oracle, name, answer)


def ask_chief(address: str, timeout: float) -> None:
    """One cheap request to the chief at `address` (host:port): its search space. Raises grpc.RpcError."""
    import grpc
    from keras_tuner.src import protos

    with grpc.insecure_channel(address) as channel:
        stub = protos.get_service_grpc().OracleStub(channel)
        stub.GetSpace(protos.get_service().GetSpaceRequest(), timeout=timeout)
