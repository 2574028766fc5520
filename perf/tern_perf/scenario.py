"""Scenario files: small TOML documents that say which processes run with which flags.

A scenario names its kind (`baseline`: load generator straight into the simulator;
`gateway`: load generator -> `tern run` -> simulator, each run paired with the same load
straight into the simulator as its baseline), default flags for each process, and a list
of runs that override them. A gateway scenario with `client = "http"` loads the gateway
through its HTTP API with `tern bench http` (flags in `[http]`) and keeps `tern bench
smpp` (flags in `[load]`) straight into the simulator as the baseline.
Flag tables use the CLI names with `_` for `-`; the runner owns the flags that
wire processes together and rejects them in a scenario.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("baseline", "gateway")
# The gateway path's load generator: `tern bench smpp` or `tern bench http`.
CLIENTS = ("smpp", "http")

# Flags the runner sets itself: ports, files, durations and credentials.
OWNED_FLAGS = {
    "sim": {"listen", "stats_interval_s", "duration_s", "system_id", "password", "users"},
    "load": {"target", "system_id", "password", "json", "quiet", "duration_s", "count"},
    "http": {
        "target",
        "user",
        "password",
        "json",
        "quiet",
        "duration_s",
        "count",
        "callback_listen",
    },
    "gateway": {"smpp_listen", "http_listen", "data_dir", "connector", "user", "config"},
}
# Query keys of `--connector NAME=smpp://...?binds=K&window=W&tps=T&bind=trx`.
CONNECTOR_KEYS = {"binds", "window", "tps", "bind"}
DURATION_S_MAX = 600.0
RECEIPT_WAIT_S_MAX = 300.0
RUNS_MAX = 16
TOP_KEYS = {
    "description",
    "kind",
    "client",
    "duration_s",
    "quick_duration_s",
    "sim",
    "load",
    "http",
    "gateway",
    "runs",
}
RUN_KEYS = {"name", "title", "duration_s", "sim", "load", "http", "gateway", "quick"}
GATEWAY_KEYS = {"config", "flags", "connector", "start_timeout_s", "settle_s"}


class ScenarioError(Exception):
    """A scenario file that cannot be run as written."""


@dataclass
class GatewaySpec:
    """How `tern run` is started for a gateway run."""

    config: Path | None = None
    flags: dict = field(default_factory=dict)
    connector: dict = field(default_factory=dict)
    start_timeout_s: float = 20.0
    settle_s: float = 1.0


@dataclass
class RunSpec:
    """One run of a scenario, with every default and (in quick mode) override applied."""

    name: str
    title: str
    duration_s: float
    sim: dict
    load: dict
    gateway: GatewaySpec | None
    client: str = "smpp"
    http: dict = field(default_factory=dict)

    def client_of(self, path: str) -> str:
        """The load generator of a path: `http` on the gateway path of an HTTP scenario."""
        return self.client if path == "gateway" else "smpp"

    def flags_of(self, path: str) -> dict:
        """The load generator's flags on `path`."""
        return self.http if self.client_of(path) == "http" else self.load

    def offered_for(self, path: str) -> float | None:
        """The open-loop rate asked of the load generator on `path`; None when closed loop."""
        rate = float(self.flags_of(path).get("rate", 0) or 0)
        return rate if rate > 0 else None

    def wait_for(self, path: str) -> float:
        """How long the load generator on `path` may wait for receipts (or callbacks)."""
        if self.client_of(path) == "http":
            return float(self.http.get("callback_wait_s", 10.0))
        return self.receipt_wait_s

    @property
    def offered_msg_s(self) -> float | None:
        """The open-loop rate asked of the SMPP load generator; None when closed loop."""
        return self.offered_for("direct")

    @property
    def receipt_wait_s(self) -> float:
        """How long the load generator may wait for receipts after its last submit."""
        return float(self.load.get("receipt_wait_s", 10.0))


@dataclass
class Scenario:
    """A loaded, validated scenario."""

    name: str
    description: str
    kind: str
    runs: list[RunSpec]
    client: str = "smpp"


def merge(base: dict, over: dict) -> dict:
    """A deep copy of `base` with `over` laid on top (tables merge, values replace)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def to_flags(table: dict) -> list[str]:
    """CLI arguments for a flag table: `a_b = 1` -> `--a-b 1`, `x = true` -> `--x`."""
    args: list[str] = []
    for key, value in table.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if value:
                args.append(flag)
        elif isinstance(value, list):
            args += [flag, ",".join(str(v) for v in value)]
        elif isinstance(value, float) and value.is_integer():
            args += [flag, str(int(value))]
        else:
            args += [flag, str(value)]
    return args


def connector_query(table: dict) -> str:
    """The `?k=v&...` query of a `--connector` URL (empty when no key is set)."""
    if not table:
        return ""
    return "?" + "&".join(f"{k}={v}" for k, v in table.items())


def _check_keys(where: str, table: dict, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _check_flags(where: str, role: str, table: object) -> dict:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}.{role} must be a table")
    owned = sorted(set(table) & OWNED_FLAGS[role])
    if owned:
        raise ScenarioError(f"{where}.{role}: {', '.join(owned)} is set by the runner")
    for key, value in table.items():
        if isinstance(value, dict):
            raise ScenarioError(f"{where}.{role}.{key} must be a value, not a table")
    return table


def _duration(where: str, value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ScenarioError(f"{where}: duration_s must be a number")
    if not 0 < value <= DURATION_S_MAX:
        raise ScenarioError(f"{where}: duration_s {value} is outside (0, {DURATION_S_MAX}]")
    return float(value)


def _gateway(where: str, table: dict, base_dir: Path | None) -> GatewaySpec:
    _check_keys(f"{where}.gateway", table, GATEWAY_KEYS)
    config = None
    if "config" in table:
        config = Path(str(table["config"]))
        if base_dir is not None:
            config = (base_dir / config).resolve()
            if not config.is_file():
                raise ScenarioError(f"{where}.gateway.config: no file {config}")
    flags = _check_flags(f"{where}.gateway", "gateway", table.get("flags", {}))
    connector = table.get("connector", {})
    _check_keys(f"{where}.gateway.connector", connector, CONNECTOR_KEYS)
    return GatewaySpec(
        config=config,
        flags=flags,
        connector=connector,
        start_timeout_s=float(table.get("start_timeout_s", 20.0)),
        settle_s=float(table.get("settle_s", 1.0)),
    )


def _run(doc: dict, raw: dict, index: int, quick: bool, base_dir: Path | None) -> RunSpec:
    where = f"runs[{index}]"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where} must be a table")
    _check_keys(where, raw, RUN_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not name.replace("-", "").isalnum():
        raise ScenarioError(f"{where}: name must be letters, digits and '-'")
    where = f"run {name}"
    merged = merge({k: doc.get(k, {}) for k in ("sim", "load", "http", "gateway")}, raw)
    duration = raw.get("duration_s", doc.get("duration_s", 10))
    if quick:
        duration = raw.get("quick", {}).get("duration_s", doc.get("quick_duration_s", 3))
        merged = merge(merged, raw.get("quick", {}))
    _check_keys(f"{where}.quick", raw.get("quick", {}), RUN_KEYS - {"name", "title", "quick"})
    sim = _check_flags(where, "sim", merged.get("sim", {}))
    load = _check_flags(where, "load", merged.get("load", {}))
    http = _check_flags(where, "http", merged.get("http", {}))
    for key, table in (("receipt_wait_s", load), ("callback_wait_s", http)):
        wait = float(table.get(key, 10.0))
        if not 0 <= wait <= RECEIPT_WAIT_S_MAX:
            raise ScenarioError(f"{where}: {key} {wait} is outside [0, {RECEIPT_WAIT_S_MAX}]")
    gateway = None
    if doc["kind"] == "gateway":
        gateway = _gateway(where, merged.get("gateway", {}), base_dir)
    return RunSpec(
        name=name,
        title=str(raw.get("title", name)),
        duration_s=_duration(where, duration),
        sim=sim,
        load=load,
        gateway=gateway,
        client=doc.get("client", "smpp"),
        http=http,
    )


def parse(name: str, text: str, quick: bool, base_dir: Path | None = None) -> Scenario:
    """Parses and validates a scenario document; `quick` applies the short settings.

    `base_dir` is where relative paths (a gateway configuration file) are looked up.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{name}: {e}") from e
    _check_keys(name, doc, TOP_KEYS)
    if doc.get("kind") not in KINDS:
        raise ScenarioError(f"{name}: kind must be one of {', '.join(KINDS)}")
    if doc["kind"] == "baseline" and "gateway" in doc:
        raise ScenarioError(f"{name}: a baseline scenario starts no gateway")
    client = doc.get("client", "smpp")
    if client not in CLIENTS:
        raise ScenarioError(f"{name}: client must be one of {', '.join(CLIENTS)}")
    if client == "http" and doc["kind"] != "gateway":
        raise ScenarioError(f"{name}: client = \"http\" needs kind = \"gateway\"")
    uses_http = "http" in doc or any(
        isinstance(r, dict) and ("http" in r or "http" in r.get("quick", {}))
        for r in doc.get("runs", [])
    )
    if client != "http" and uses_http:
        raise ScenarioError(f"{name}: [http] flags need client = \"http\"")
    runs = doc.get("runs", [])
    if not isinstance(runs, list) or not 1 <= len(runs) <= RUNS_MAX:
        raise ScenarioError(f"{name}: needs 1..={RUNS_MAX} [[runs]]")
    specs = [_run(doc, raw, i, quick, base_dir) for i, raw in enumerate(runs)]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ScenarioError(f"{name}: run names must be unique")
    return Scenario(
        name=name,
        description=str(doc.get("description", "")),
        kind=doc["kind"],
        runs=specs,
        client=client,
    )


def load(path: Path, quick: bool) -> Scenario:
    """Reads and validates the scenario file at `path`."""
    return parse(path.stem, path.read_text(encoding="utf-8"), quick, path.parent)


def available(directory: Path) -> list[str]:
    """The scenario names in `directory`, sorted."""
    return sorted(p.stem for p in directory.glob("*.toml"))
