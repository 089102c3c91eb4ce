"""Small helpers every benchmark in tests/bench uses. Not a benchmark."""

import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def proc_cpu(pid):
    """CPU seconds (user + system) pid has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def sustained_rate(trial, start, limit, steps, describe):
    """The highest rate whose trial leaves under 1% dropped: a geometric
    ramp (x1.6) from start up to limit, then `steps` bisections between
    the last good and the first bad rate. When start itself fails, the
    ramp goes down (/1.6, to start / 10 at most) until a trial passes, so
    one bad first trial does not make the result zero. trial(rate) returns
    a dict with at least "rate" and "drop"; describe(t) is its log line.
    Returns (good, bad, trials); good is None when every rate failed."""
    good, bad, trials = None, None, []

    def run(rate):
        """One trial; True when it passed (it is then good, else bad)."""
        nonlocal good, bad
        t = trial(rate)
        trials.append(t)
        log(describe(t))
        ok = t["drop"] < 0.01
        if ok:
            good = t
        else:
            bad = t
        return ok

    rate = start
    while rate <= limit and run(rate):
        rate = int(rate * 1.6)
    rate = int(start / 1.6)
    while not good and rate >= start / 10:
        run(rate)
        rate = int(rate / 1.6)
    for _ in range(steps if good and bad else 0):
        mid = (good["rate"] + bad["rate"]) // 2
        if mid in (good["rate"], bad["rate"]):
            break
        run(mid)
    return good, bad, trials


class RegionRack:
    """ironrack-regiond on loopback (fresh embedded PostgreSQL, no DHCP
    conflict probes: the peers do not probe either) and one ironrack-rackd
    enrolled with it, serving net's rack namespace through --netns, as
    tests/system/conftest.py runs them. The caller puts tests/system on
    sys.path. configure() gives the rack one subnet with a dynamic range on
    the untagged VLAN of fabric-0."""

    def __init__(self, net, work, build, region_args=(), rack_args=()):
        # conftest reads IRONRACK_BUILD when first imported: set it first,
        # or --build would name the binaries checked but not those run.
        os.environ["IRONRACK_BUILD"] = build
        from conftest import Rack, Region  # tests/system/conftest.py
        self.net, self.work, self.rack_args = net, work, list(rack_args)

        class BenchRegion(Region):
            def args(self):
                return super().args() + ["--dhcp-probe", "no", *region_args]
        self.region = BenchRegion(os.path.join(work, "region"))
        os.makedirs(self.region.state_dir, mode=0o700)
        self.region.start()
        self.rack = Rack(self.region, os.path.join(work, "rack"), "bench-rack")
        self.rackd_version = subprocess.run([os.path.join(build, "ironrack-rackd"), "--version"],
                                            capture_output=True, text=True).stdout.strip()
        self.enrolled = False

    def configure(self, cidr, pool, **subnet):
        """subnet: more fields of the subnet (gateway, dns_servers, ...)."""
        r = self.region

        def ok(method, path, body=None):
            st, out = r.api(method, path, body)
            if st not in (200, 201):
                raise RuntimeError(f"{method} {path} {body}: {st} {out}")
            return out
        st, vl = r.api("GET", "/api/v1/vlans")
        vlan = [v for v in vl["vlans"] if v["fabric_name"] == "fabric-0" and v["vid"] == 0][0]
        ok("POST", "/api/v1/subnets", {"cidr": cidr, "vlan": vlan["id"], **subnet})
        ok("POST", "/api/v1/ip-ranges", {"subnet": cidr, "type": "dynamic", "start_ip": pool[0], "end_ip": pool[1]})
        ok("PATCH", f"/api/v1/vlans/{vlan['id']}", {"dhcp_on": True, "primary_rack": self.rack.rack_id})

    def start_rack(self):
        """Enrol and configure the first time (configure_first()), restart
        from its stored config after that."""
        extra = ["--netns", self.net.rack, *self.rack_args]
        if not self.enrolled:
            self.rack.start(secret=self.region.secret, fingerprint=self.region.fingerprint, extra=extra)
            self.enrolled = True
            self.configure_first()
        else:
            self.rack.start(extra=extra)

    def configure_first(self):
        raise NotImplementedError

    @property
    def pid(self):
        return self.rack.daemon.proc.pid

    def close(self):
        try:
            self.rack.stop()
        finally:
            self.region.stop()
