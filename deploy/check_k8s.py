#!/usr/bin/env python3
"""Structural checks for deploy/, used by deploy/check.sh.

  check_k8s.py DIR                         parse every manifest in DIR, check
                                           kinds, required fields and that the
                                           pieces refer to each other correctly
  check_k8s.py --extract-config CM OUT     write the ConfigMap's files to OUT
  check_k8s.py --containerfile CF README   check the Containerfile and that its
                                           README builds and runs it the same way

Exit status 1 with one line per problem when something is wrong. PyYAML is
needed for the first two forms only.
"""

import os
import re
import sys

EXPECTED = {
    "ConfigMap": "v1",
    "Deployment": "apps/v1",
    "Service": "v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
}
DRAIN_S = 30
ADMIN_PORT = 9901


def load_dir(d):
    import yaml

    docs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(d, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((name, doc))
    return docs


def get(obj, path, default=None):
    for key in path.split("."):
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        else:
            return default
    return obj


def check_manifests(d):
    problems = []
    p = problems.append
    docs = load_dir(d)
    by_kind = {}
    files = set()
    for name, doc in docs:
        if not isinstance(doc, dict):
            p(f"{name}: document is not a mapping")
            continue
        kind = doc.get("kind")
        if kind == "Kustomization":
            kust = doc
            continue
        files.add(name)
        for field in ("apiVersion", "kind", "metadata"):
            if field not in doc:
                p(f"{name}: missing {field}")
        if not get(doc, "metadata.name"):
            p(f"{name}: missing metadata.name")
        if kind not in EXPECTED:
            p(f"{name}: unexpected kind {kind!r}")
            continue
        if doc.get("apiVersion") != EXPECTED[kind]:
            p(f"{name}: {kind} should be apiVersion {EXPECTED[kind]}, is {doc.get('apiVersion')!r}")
        if kind in by_kind:
            p(f"{name}: second {kind}")
        by_kind[kind] = doc
    for kind in EXPECTED:
        if kind not in by_kind:
            p(f"no {kind} manifest")
    if "kust" in locals():
        listed = set(kust.get("resources") or [])
        if listed != files:
            p(f"kustomization.yaml resources {sorted(listed)} != manifests {sorted(files)}")

    dep = by_kind.get("Deployment")
    if dep:
        tmpl_labels = get(dep, "spec.template.metadata.labels", {}) or {}
        sel = get(dep, "spec.selector.matchLabels", {}) or {}
        if not sel or any(tmpl_labels.get(k) != v for k, v in sel.items()):
            p("Deployment: selector.matchLabels must be non-empty and match the pod template labels")
        pod = get(dep, "spec.template.spec", {}) or {}
        containers = pod.get("containers") or []
        if not containers:
            p("Deployment: no containers")
        c = containers[0] if containers else {}
        if not c.get("image"):
            p("Deployment: container has no image")
        ports = {pt.get("name"): pt.get("containerPort") for pt in c.get("ports") or []}
        if ports.get("admin") != ADMIN_PORT:
            p(f"Deployment: container port 'admin' must be {ADMIN_PORT}")
        if "http" not in ports:
            p("Deployment: container port 'http' missing")
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            hg = get(c, f"{probe}.httpGet", {}) or {}
            if hg.get("path") != path:
                p(f"Deployment: {probe} must GET {path}")
            if hg.get("port") not in ("admin", ADMIN_PORT):
                p(f"Deployment: {probe} must use the admin port {ADMIN_PORT}")
        pre = get(c, "lifecycle.preStop")
        sleep_s = 0
        if not pre:
            p("Deployment: no preStop hook")
        else:
            cmd = get(pre, "exec.command") or []
            if get(pre, "sleep.seconds") is not None:
                sleep_s = int(get(pre, "sleep.seconds"))
            elif len(cmd) == 2 and cmd[0] == "sleep":
                sleep_s = int(cmd[1])
            else:
                p("Deployment: preStop should sleep")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace <= DRAIN_S + sleep_s:
            p(f"Deployment: terminationGracePeriodSeconds {grace} must exceed preStop {sleep_s}s + drain {DRAIN_S}s")
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if not get(c, f"resources.{kind}.{res}"):
                    p(f"Deployment: resources.{kind}.{res} missing")
        sc, psc = c.get("securityContext") or {}, pod.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            p("Deployment: runAsNonRoot must be true")
        if sc.get("readOnlyRootFilesystem") is not True:
            p("Deployment: readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            p("Deployment: allowPrivilegeEscalation must be false")
        mounts = {m.get("name"): m for m in c.get("volumeMounts") or []}
        vols = {v.get("name"): v for v in pod.get("volumes") or []}
        cfg = [n for n, m in mounts.items() if m.get("mountPath") == "/etc/isoproxy"]
        if not cfg or not mounts[cfg[0]].get("readOnly"):
            p("Deployment: /etc/isoproxy must be mounted read-only")
        else:
            cm_name = get(vols.get(cfg[0], {}), "configMap.name")
            if cm_name != get(by_kind.get("ConfigMap", {}), "metadata.name"):
                p(f"Deployment: /etc/isoproxy volume refers to ConfigMap {cm_name!r}, not the one defined")
        for n in mounts:
            if n not in vols:
                p(f"Deployment: volumeMount {n!r} has no volume")

        svc = by_kind.get("Service")
        if svc:
            ssel = get(svc, "spec.selector", {}) or {}
            if not ssel or any(tmpl_labels.get(k) != v for k, v in ssel.items()):
                p("Service: selector does not match the Deployment's pods")
            for sp in get(svc, "spec.ports", []) or []:
                tp = sp.get("targetPort")
                if isinstance(tp, str) and tp not in ports:
                    p(f"Service: targetPort {tp!r} is not a container port name")
        hpa = by_kind.get("HorizontalPodAutoscaler")
        if hpa:
            ref = get(hpa, "spec.scaleTargetRef", {}) or {}
            if ref.get("kind") != "Deployment" or ref.get("name") != get(dep, "metadata.name"):
                p("HPA: scaleTargetRef must name the Deployment")
            names = [get(m, "resource.name") for m in get(hpa, "spec.metrics", []) or []]
            if "cpu" not in names:
                p("HPA: no CPU metric")
            if (get(hpa, "spec.minReplicas") or 1) < 2:
                p("HPA: minReplicas should be at least 2 (a PDB with one pod blocks drains)")
        pdb = by_kind.get("PodDisruptionBudget")
        if pdb:
            psel = get(pdb, "spec.selector.matchLabels", {}) or {}
            if not psel or any(tmpl_labels.get(k) != v for k, v in psel.items()):
                p("PDB: selector does not match the Deployment's pods")
            if get(pdb, "spec.minAvailable") is None and get(pdb, "spec.maxUnavailable") is None:
                p("PDB: needs minAvailable or maxUnavailable")

    cm = by_kind.get("ConfigMap")
    if cm:
        data = cm.get("data") or {}
        conf = data.get("config.capnp")
        if not conf:
            p("ConfigMap: no config.capnp")
        else:
            for f in re.findall(r'embed\s+"([^"]+)"', conf):
                if f not in data:
                    p(f"ConfigMap: config.capnp embeds {f!r}, which is not a key")
            if f'"0.0.0.0:{ADMIN_PORT}"' not in conf:
                p(f"ConfigMap: config must set admin = (address = \"0.0.0.0:{ADMIN_PORT}\")")
            if '"*:8080"' not in conf and '"0.0.0.0:8080"' not in conf:
                p("ConfigMap: the http socket should listen on *:8080")
    return problems


def extract_config(cm_path, out):
    import yaml

    with open(cm_path) as f:
        cm = yaml.safe_load(f)
    os.makedirs(out, exist_ok=True)
    for k, v in (cm.get("data") or {}).items():
        with open(os.path.join(out, k), "w") as f:
            f.write(v)


def check_containerfile(cf_path, readme_path):
    problems = []
    p = problems.append
    with open(cf_path) as f:
        text = f.read()
    with open(readme_path) as f:
        readme = f.read()
    # Join continuation lines, drop comments.
    logical, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        logical.append(cur + s)
        cur = ""
    instrs = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in logical]
    known = {"FROM", "RUN", "COPY", "ADD", "ARG", "ENV", "WORKDIR", "USER", "EXPOSE", "VOLUME",
             "ENTRYPOINT", "CMD", "LABEL", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD"}
    for i, _ in instrs:
        if i not in known:
            p(f"Containerfile: unknown instruction {i}")
    froms = [a for i, a in instrs if i == "FROM"]
    if len(froms) < 2:
        p("Containerfile: expected a multi-stage build")
    stages = {m.group(1) for a in froms for m in [re.search(r"\bAS\s+(\S+)", a, re.I)] if m}
    for i, a in instrs:
        m = re.search(r"--from=(\S+)", a) if i == "COPY" else None
        if m and m.group(1) not in stages:
            p(f"Containerfile: COPY --from={m.group(1)} names no stage")
    # The last stage: what runs.
    last = max(idx for idx, (i, _) in enumerate(instrs) if i == "FROM")
    final = instrs[last:]
    args = {a.split("=", 1)[0].strip() for i, a in instrs if i == "ARG"}
    base = final[0][1]
    m = re.match(r"\$\{(\w+)\}", base)
    if m and m.group(1) in args:
        dflt = re.search(rf"ARG {m.group(1)}=(\S+)", text)
        base = dflt.group(1) if dflt else base
    if "bookworm-slim" not in base and "distroless" not in base:
        p(f"Containerfile: final stage should be debian:bookworm-slim or distroless, is {base}")
    users = [a for i, a in final if i == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        p("Containerfile: final stage must switch to a non-root USER")
    exposed = " ".join(a for i, a in final if i == "EXPOSE").split()
    for port in ("8080", "9901"):
        if port not in exposed:
            p(f"Containerfile: EXPOSE {port} missing")
    ep = [a for i, a in final if i == "ENTRYPOINT"]
    if not ep or ep[-1].replace(" ", "") != '["isoproxy","serve"]':
        p('Containerfile: ENTRYPOINT must be ["isoproxy", "serve"]')
    builder_runs = " ".join(a for i, a in instrs[:last] if i == "RUN")
    for pkg in ("cmake", "capnproto"):
        if pkg not in builder_runs:
            p(f"Containerfile: builder does not install {pkg}")
    if "cargo build --release --locked -p isoproxy" not in builder_runs:
        p("Containerfile: builder must run cargo build --release --locked -p isoproxy")
    for arg in ("RUSTY_V8_ARCHIVE", "RUSTY_V8_SRC_BINDING_PATH"):
        if arg not in args:
            p(f"Containerfile: ARG {arg} missing")
    # README and the Containerfile's header tell the same build.
    for cmd in ("podman build -f deploy/container/Containerfile -t isoproxy .",
                "docker build -f deploy/container/Containerfile -t isoproxy ."):
        if cmd not in readme:
            p(f"README: missing `{cmd}`")
        if cmd.startswith("podman") and cmd not in text:
            p(f"Containerfile header: missing `{cmd}`")
    if "-v ./config:/etc/isoproxy:ro" not in readme:
        p("README: missing the read-only config mount -v ./config:/etc/isoproxy:ro")
    for a in set(re.findall(r"--build-arg (\w+)=", readme)) | set(re.findall(r"--build-arg (\w+)=", text)):
        if a not in args:
            p(f"README/Containerfile: --build-arg {a} is not an ARG")
    return problems


def main(argv):
    if len(argv) == 4 and argv[1] == "--extract-config":
        extract_config(argv[2], argv[3])
        return 0
    if len(argv) == 4 and argv[1] == "--containerfile":
        problems = check_containerfile(argv[2], argv[3])
    elif len(argv) == 2:
        try:
            import yaml  # noqa: F401
        except ImportError:
            print("PyYAML is not installed (pip install pyyaml)")
            return 1
        problems = check_manifests(argv[1])
    else:
        print(__doc__)
        return 2
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
