#!/usr/bin/env python3
"""The deployment rules that schema validation and `docker-compose config` do not know.

Usage: check-policy.py COMPOSE_CONFIG DOCKERFILE K8S_FILE...
COMPOSE_CONFIG is the output of `docker-compose config` (anchors and merges resolved).
Prints one line per broken rule and exits 1 if there is any.
"""

import re
import sys

import yaml

IMAGE_UID = 10001
SERVICES = ("auth", "project", "memory", "gateway")
BINARIES = SERVICES + ("migrator",)

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def check_dockerfile(path):
    text = open(path, encoding="utf-8").read()
    targets = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE))
    for binary in BINARIES:
        if binary not in targets:
            problem(path, f"no `{binary}` target")
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    if not users or users[-1] != f"{IMAGE_UID}:{IMAGE_UID}":
        problem(path, f"the runtime stage must end as USER {IMAGE_UID}:{IMAGE_UID} (numeric)")
    if not re.search(r"^ENV SQLX_OFFLINE=true", text, re.MULTILINE):
        problem(path, "the build must set SQLX_OFFLINE=true (no database at build time)")
    if "cargo chef cook" not in text:
        problem(path, "dependencies must be cooked in their own layer (cargo chef cook)")
    return targets


def check_compose(path, targets):
    services = yaml.safe_load(open(path, encoding="utf-8"))["services"]
    for name, service in services.items():
        where = f"{path}: service {name}"
        one_shot = service.get("restart") == "no"
        if not one_shot and "healthcheck" not in service:
            problem(where, "a long-running container needs a healthcheck")
        build = service.get("build")
        if build and build.get("target") not in targets:
            problem(where, f"builds target {build.get('target')!r}, not in the Dockerfile")
        if name in SERVICES:
            wanted = ["CMD", f"/usr/local/bin/{name}", "healthcheck"]
            if service.get("healthcheck", {}).get("test") != wanted:
                problem(where, f"healthcheck must be {wanted}")
        for dependency, how in service.get("depends_on", {}).items():
            condition = how.get("condition")
            target = services.get(dependency, {})
            if target.get("restart") == "no":
                if condition != "service_completed_successfully":
                    problem(where, f"waits for one-shot {dependency} with {condition}")
            elif condition != "service_healthy":
                problem(where, f"must wait for {dependency} with service_healthy, not {condition}")


def check_pod(where, pod, secret_keys, config_maps, is_service):
    security = pod.get("securityContext", {})
    if security.get("runAsNonRoot") is not True or security.get("runAsUser") != IMAGE_UID:
        problem(where, f"pod must set runAsNonRoot and runAsUser {IMAGE_UID}")
    if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(where, "pod must use the RuntimeDefault seccomp profile")
    if pod.get("enableServiceLinks") is not False:
        problem(where, "enableServiceLinks must be false (links would set <NAME>_PORT)")
    if pod.get("automountServiceAccountToken") is not False:
        problem(where, "no pod here talks to the API server: automountServiceAccountToken false")
    for container in pod.get("containers", []):
        cwhere = f"{where} container {container['name']}"
        csec = container.get("securityContext", {})
        if csec.get("allowPrivilegeEscalation") is not False:
            problem(cwhere, "allowPrivilegeEscalation must be false")
        if csec.get("readOnlyRootFilesystem") is not True:
            problem(cwhere, "readOnlyRootFilesystem must be true")
        if csec.get("capabilities", {}).get("drop") != ["ALL"]:
            problem(cwhere, "capabilities must drop ALL")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            if set(resources.get(kind, {})) != {"cpu", "memory"}:
                problem(cwhere, f"resources.{kind} must give cpu and memory")
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref.get("key") not in secret_keys:
                problem(cwhere, f"{env['name']} reads Secret key {ref.get('key')!r}, not in the example Secret")
        for source in container.get("envFrom", []):
            name = source.get("configMapRef", {}).get("name")
            if name is not None and name not in config_maps:
                problem(cwhere, f"reads ConfigMap {name!r}, which no manifest defines")
        if is_service:
            port_names = {port.get("name") for port in container.get("ports", [])}
            for probe, paths in (
                ("readinessProbe", ("/health/ready", "/health/live")),
                ("livenessProbe", ("/health/live",)),
            ):
                http = container.get(probe, {}).get("httpGet", {})
                if http.get("path") not in paths:
                    problem(cwhere, f"{probe} must GET one of {paths}")
                if http.get("port") not in port_names:
                    problem(cwhere, f"{probe} port {http.get('port')!r} is no container port name")
    for volume in pod.get("volumes", []):
        for item in volume.get("secret", {}).get("items", []):
            if item["key"] not in secret_keys:
                problem(where, f"volume {volume['name']} mounts Secret key {item['key']!r}, not in the example Secret")


def check_kubernetes(paths):
    documents = []
    for path in paths:
        for document in yaml.safe_load_all(open(path, encoding="utf-8")):
            if document:
                documents.append((path, document))
    secret_keys = set()
    for _, document in documents:
        if document["kind"] == "Secret":
            secret_keys |= set(document.get("stringData", {})) | set(document.get("data", {}))
    config_maps = {d["metadata"]["name"] for _, d in documents if d["kind"] == "ConfigMap"}
    deployments = {}
    for path, document in documents:
        kind, name = document["kind"], document["metadata"]["name"]
        where = f"{path}: {kind} {name}"
        if kind != "Namespace" and document["metadata"].get("namespace") != "devmentor":
            problem(where, "must be in the devmentor namespace")
        if kind in ("Deployment", "Job"):
            pod = document["spec"]["template"]["spec"]
            check_pod(where, pod, secret_keys, config_maps, kind == "Deployment")
        if kind == "Deployment":
            deployments[name] = document
    for binary in SERVICES:
        if binary not in deployments:
            problem("deploy/k8s", f"no Deployment for {binary}")
    for path, document in documents:
        if document["kind"] != "Service" or document["spec"].get("type") == "ExternalName":
            continue
        selector = document["spec"].get("selector", {})
        matches = [
            d for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        if not matches:
            problem(f"{path}: Service {document['metadata']['name']}", "selects no Deployment")


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    compose, dockerfile, manifests = argv[1], argv[2], argv[3:]
    targets = check_dockerfile(dockerfile)
    check_compose(compose, targets)
    check_kubernetes(manifests)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
