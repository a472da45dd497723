"""The simulation: every simulated device of every source, stepped through time on the one clock.

Time moves in ticks.  At each tick every device whose model is due is stepped (a device keeps its own
phase, so messages do not all fall on the tick), its readings become the vendor's messages through the
profile's templates, faults are injected, and each source's sender delivers them over the real
transport.  Then the clock is moved (a backfill holds it at the tick) or waited for (a replay at
``speed``, then live), so no message ever carries a time ahead of the platform's clock.
"""
from __future__ import annotations

import copy
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..clock import SimulationClock
from ..spec.devices import Device
from ..spec.model import SpecSet
from .faults import DUPLICATE, FLAGGED_LATE, STORED, quarantined
from .fleet import seeded
from .models import MODELS, Model
from .profile import CompiledProfile, Profile, compile_profile, load_profiles, template_problem
from .senders import SENDERS, Context, DryRun, Report, Sender, SimMessage
from .template import TemplateError
from .world import HOUR_US, World, load_world

log = logging.getLogger(__name__)
S = 1_000_000


@dataclass
class SimDevice:
    info: dict                    # what templates see as ``device``
    model: Model
    next_step: int
    next_emit: int
    n: int = 0
    last: dict | None = None      # outputs at the last message (on_change)
    last_emit: int = 0
    silent_until: int = 0

    @property
    def local_id(self) -> str:
        return self.info["local_id"]


@dataclass
class SourceSim:
    cp: CompiledProfile
    devices: list[SimDevice]
    sender: Sender
    rng: random.Random            # faults of this source
    seq: int = 0
    held: list[SimMessage] = field(default_factory=list)
    cut: set[bytes] = field(default_factory=set)   # the bodies of the messages cut short so far

    @property
    def id(self) -> str:
        return self.cp.spec.id


@dataclass
class Limits:
    """The platform's time limits the faults are aimed at (its Settings)."""
    late_after_s: float = 3600.0
    max_future_s: float = 86400.0


def device_info(d: Device) -> dict:
    return dict(d.attrs, local_id=d.local_id, name=d.name, lon=d.lon, lat=d.lat)


class Simulation:
    def __init__(self, specs: SpecSet, registries: dict[str, list[Device]], ctx: Context, clock: SimulationClock, *,
                 seed: int = 1, faults: dict[str, float] | None = None, profiles: dict[str, Profile] | None = None,
                 sources: list[str] | None = None, limits: Limits | None = None,
                 after_tick: Callable[[], None] | None = None, world: World | None = None):
        self.specs, self.ctx, self.clock, self.seed = specs, ctx, clock, seed
        self.rates = faults or {}
        self.limits = limits or Limits()
        self.after_tick = after_tick
        self.world = world or World(seed, load_world())
        self.report = Report()
        self.profiles = profiles if profiles is not None else load_profiles()
        wanted = sources or [s for s in specs.sources if s in self.profiles]
        missing = [s for s in wanted if s not in self.profiles]
        if missing:
            raise ValueError(f"no simulation profile for source(s) {', '.join(missing)} "
                             f"(profiles: {', '.join(sorted(self.profiles))})")
        unknown = [s for s in wanted if s not in specs.sources]
        if unknown:
            raise ValueError(f"no source spec in force for {', '.join(unknown)} "
                             "(apply the specs first: citylink spec apply <directory>)")
        self.registries = registries
        self.sources: list[SourceSim] = []
        self._wanted = wanted

    @property
    def source_ids(self) -> list[str]:
        return list(self._wanted)

    # -- set-up -------------------------------------------------------------------------------------
    def prepare(self, start_us: int) -> None:
        """Build the devices and the vendors' side of every transport (a vendor API starts listening)."""
        if self.sources:
            return
        for sid in self._wanted:
            spec, prof = self.specs.sources[sid], self.profiles[sid]
            cp = compile_profile(prof, spec, seeded(self.seed, "template", sid))
            devs = []
            for d in self.registries.get(sid, []):
                rng = seeded(self.seed, sid, d.local_id)
                model = MODELS.get(prof.model["kind"])(
                    {k: v for k, v in prof.model.items() if k != "kind"}, device_info(d), rng, self.world)
                period = int((prof.every or prof.step) * S)
                # a device keeps its own phase, unless the vendor reports on the clock (hourly tables)
                first = -(-start_us // period) * period if prof.doc.get("align") else start_us + int(rng.uniform(0, period))
                devs.append(SimDevice(device_info(d), model, first, first))
            kind = DryRun if self.ctx.dry_run else SENDERS.get(spec.transport["type"])
            sender = kind(self.ctx, spec, self.report, prof)
            self.sources.append(SourceSim(cp, devs, sender, seeded(self.seed, "faults", sid)))

    def close(self) -> None:
        for s in self.sources:
            try:
                s.sender.close()
            except Exception:  # noqa: BLE001 - closing the others matters more
                log.exception("closing the simulated %s sender of %s", s.sender.name, s.id)

    # -- the run ------------------------------------------------------------------------------------
    def run(self, *, backfill_from: int | None = None, replay_from: int | None = None, speed: float = 1.0,
            live: bool = True, until: int | None = None, stop: threading.Event | None = None,
            tick_s: float | None = None) -> Report:
        """Backfill from ``backfill_from`` as fast as the platform takes it; replay from ``replay_from``
        at ``speed`` until the replay meets the present; then, if ``live``, run in real time until
        ``until`` (µs) or ``stop``.  Returns what was sent."""
        stop = stop or threading.Event()
        now = self.clock.base.now_us()
        t = next((x for x in (backfill_from, replay_from) if x is not None), now)
        self.prepare(t)
        try:
            if backfill_from is not None:
                end = replay_from if replay_from is not None else now
                step = int((tick_s or 300) * S)
                while t < end and not stop.is_set():
                    t = min(end, t + step)
                    self.clock.hold(t)
                    self._tick(t)
            if replay_from is not None and not stop.is_set():
                self.clock.replay(t, speed)
                t = self._paced(t, tick_s or max(5.0, min(300.0, speed)), until, stop,
                                lambda: self.clock.caught_up)
            self.clock.live()
            if live and not stop.is_set():
                self._paced(t, tick_s or 5.0, until, stop, lambda: False)
        finally:
            self.clock.live()
        self._finish()
        return self.report

    def _paced(self, t: int, tick_s: float, until: int | None, stop: threading.Event,
               done: Callable[[], bool]) -> int:
        """Ticks that wait for the clock, until ``until``, ``stop`` or ``done()``; returns the last tick."""
        step = int(tick_s * S)
        while not stop.is_set() and (until is None or t < until) and not done():
            target = t + step if until is None else min(until, t + step)
            if not self.clock.caught_up:  # a replay's last tick ends at the present, not beyond it
                target = max(t + 1, min(target, self.clock.base.now_us()))
            while not stop.is_set():
                wait = self.clock.real_seconds_until(target)
                if wait <= 0:
                    break
                stop.wait(min(wait, 0.5))
            if stop.is_set():
                break
            t = target
            self._tick(t)
        return t

    def _finish(self) -> None:
        now = self.clock.now_us()
        for s in self.sources:
            if s.held:
                held, s.held = s.held, []
                self._deliver(s, held, now)
            s.sender.flush(now, final=True)
        if self.after_tick:
            self.after_tick()

    def _tick(self, t: int) -> None:
        for s in self.sources:
            out = self._emit(s, t)
            due = [m for m in s.held if m.release_at <= t]
            if due:
                s.held = [m for m in s.held if m.release_at > t]
                out += due
            self._deliver(s, out, t)
            s.sender.flush(t)
        if self.after_tick and not self.clock.caught_up:
            # a backfill or replay outruns the adapters' own schedules (a poll a minute); live, they keep up
            self.after_tick()

    def _deliver(self, s: SourceSim, messages: list[SimMessage], now: int) -> None:
        late_us = int(self.limits.late_after_s * S)
        flags_late = s.cp.spec.transport["type"] != "file"  # files are backfills: never flagged late
        for m in messages:  # held back (late, out of order) long enough, the platform flags it late
            if m.expect == STORED and flags_late and now - m.t > late_us:
                m.expect = FLAGGED_LATE
        if messages:
            s.sender.send(messages)

    # -- devices → messages -------------------------------------------------------------------------
    def _emit(self, s: SourceSim, t: int) -> list[SimMessage]:
        prof = s.cp.profile
        readings: list[tuple[SimDevice, int, dict]] = []
        silent_rate = self.rates.get("silent", 0.0)
        for d in s.devices:
            while d.next_step <= t:
                ts = d.next_step
                out = d.model.step(ts, prof.step)
                d.next_step += int(prof.step * S)
                if silent_rate and ts >= d.silent_until and s.rng.random() < silent_rate * prof.step / 86400:
                    d.silent_until = ts + int(s.rng.uniform(2, 12) * HOUR_US)
                    self.report.faults[s.id]["silent"] += 1
                if ts < d.silent_until:
                    continue
                if prof.every is not None:
                    if ts < d.next_emit:
                        continue
                    d.next_emit = ts + int(prof.every * S)
                else:
                    changed = d.last is None or any(out.get(k) != d.last.get(k) for k in prof.on_change)
                    beat = prof.heartbeat is not None and ts - d.last_emit >= prof.heartbeat * S
                    if not (changed or beat):
                        continue
                d.last, d.last_emit = out, ts
                readings.append((d, ts, out))
        readings.sort(key=lambda r: r[1])
        messages = self._render(s, readings)
        return self._inject(s, messages, t)

    def _names(self, s: SourceSim, d: SimDevice, ts: int, out: dict) -> dict:
        d.n += 1
        s.seq += 1
        return dict(out, device=d.info, t=ts, n=d.n, seq=s.seq)

    def _render(self, s: SourceSim, readings) -> list[SimMessage]:
        cp = s.cp
        try:
            if cp.rows:
                msgs = []
                for d, ts, out in readings:
                    names = self._names(s, d, ts, out)
                    file = cp.file(names)
                    for row in cp.rows:
                        msgs.append(SimMessage(s.id, d.local_id, ts, row(names), file=file))
                        msgs[-1].remake = lambda dt, row=row, names=names: row(dict(names, t=names["t"] + dt))
                return msgs
            if cp.group is not None:
                groups: dict[int, list] = {}
                index = {id(d): i for i, d in enumerate(s.devices)}
                for d, ts, out in readings:
                    groups.setdefault(index[id(d)] // cp.group_size, []).append(self._names(s, d, ts, out))
                msgs = []
                for g, names_list in sorted(groups.items()):
                    def make(dt, g=g, names_list=names_list):
                        recs = [cp.message(dict(n, t=n["t"] + dt)) for n in names_list]
                        return cp.group({"records": recs, "group": g + 1, "t": names_list[-1]["t"] + dt,
                                          "seq": s.seq})
                    m = SimMessage(s.id, f"group-{g + 1}", names_list[-1]["t"], make(0))
                    m.remake = make
                    msgs.append(m)
                return msgs
            msgs = []
            for d, ts, out in readings:
                names = self._names(s, d, ts, out)
                m = SimMessage(s.id, d.local_id, ts, cp.message(names),
                               topic=cp.topic(names) if cp.topic else None)
                m.remake = lambda dt, names=names: cp.message(dict(names, t=names["t"] + dt))
                msgs.append(m)
            return msgs
        except TemplateError as e:
            raise template_problem(cp.profile, e) from None

    def _inject(self, s: SourceSim, messages: list[SimMessage], now: int) -> list[SimMessage]:
        rates = self.rates
        if not rates:
            return messages
        prof = s.cp.profile
        kinds = [(k, rates[k]) for k in ("malformed", "duplicate", "out_of_order", "late", "clock_skew", "burst")
                 if rates.get(k)]
        out: list[SimMessage] = []
        for m in messages:
            r = s.rng.random()
            fault = None
            for k, rate in kinds:
                if k == "burst":
                    rate = rate * (prof.every or prof.heartbeat or 3600) / 86400 if prof.doc.get("burst") else 0
                if r < rate:
                    fault = k
                    break
                r -= rate
            if fault is None:
                out.append(m)
                continue
            if fault == "malformed" and not prof.malformed:
                out.append(m)
                continue
            m.fault = fault
            if fault == "malformed":
                mal = prof.malformed
                if mal.get("truncate"):
                    enc = s.cp.spec.payload.get("encoding", "utf-8")
                    text = m.body(enc).decode(enc)
                    m.raw = text[: max(1, len(text) // 2)].encode(enc)  # cut between characters, not inside one
                    if m.raw in s.cut:
                        # the first half of a device's messages may not change from one to the next: a body
                        # the platform has had already is a duplicate to it, whatever it was cut from
                        m.expect = DUPLICATE
                        out.append(m)
                        continue
                    s.cut.add(m.raw)
                else:  # a value may be a template ("=…", with t and device): garbled, yet not a duplicate
                    for path, value in mal["set"].items():
                        if isinstance(value, str) and value.startswith("="):
                            value = s.cp.renderer.compile(value, ("malformed", "set", path))(
                                {"t": m.t, "device": {"local_id": m.device}})
                        _set_path(m.doc, path, value)
                m.expect = quarantined(mal["expect"])
                out.append(m)
            elif fault == "duplicate":
                out.append(m)
                twin = copy.deepcopy(SimMessage(m.source, m.device, m.t, m.doc, m.topic, m.file, m.raw))
                twin.fault, twin.expect = "duplicate", DUPLICATE
                m.fault = None
                out.append(twin)
            elif fault == "out_of_order":
                m.release_at = now + int((prof.every or prof.step) * S)
                s.held.append(m)
            elif fault == "late":
                m.release_at = m.t + int((self.limits.late_after_s + 900) * S)
                s.held.append(m)
            elif fault == "clock_skew":
                skew = now - m.t + int((self.limits.max_future_s + 6 * 3600) * S)
                m.doc = m.remake(skew)
                m.expect = quarantined("timestamp_in_future")
                out.append(m)
            elif fault == "burst":
                b = prof.doc["burst"]
                spacing = int(float(b.get("spacing_s", 5)) * S)
                out.append(m)
                for k in range(1, int(b.get("size", 20)) + 1):
                    extra = SimMessage(m.source, m.device, m.t - k * spacing, m.remake(-k * spacing), m.topic, m.file)
                    extra.fault = "burst"
                    out.append(extra)
        return out


def _set_path(doc: Any, path: str, value: Any) -> None:
    node = doc
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


