"""``lanza cloud``: Cloud Run, Vertex AI and GKE, with a dry run by default without gcloud.

Each command packages the deployment (``lanza package``), writes its files under
``build/NAME/deploy/`` and a script of the exact ``gcloud``/``kubectl`` commands; a dry
run prints them, a real run executes the script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lanza.cli.context import state
from lanza.cli.output import console, print_json
from lanza.cloud.commands import Script, decide_dry_run
from lanza.cloud.target import CloudTarget, parse_pairs

app = typer.Typer(help="Ship deployments to Google Cloud: Cloud Run, Vertex AI, GKE.")
run_app = typer.Typer(help="Cloud Run services.")
vertex_app = typer.Typer(help="Vertex AI endpoints and batch prediction.")
gke_app = typer.Typer(help="Kubernetes (GKE) manifests and KubeRay batch jobs.")
app.add_typer(run_app, name="run")
app.add_typer(vertex_app, name="vertex")
app.add_typer(gke_app, name="gke")

Project = Annotated[str, typer.Option(help="Google Cloud project ID.")]
Region = Annotated[str, typer.Option(help="Region, e.g. europe-west1.")]
Image = Annotated[
    str | None,
    typer.Option(help="Image to build and run [default: REGION-docker.pkg.dev/PROJECT/lanza/…]."),
]
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Build folder [default: build/DEPLOYMENT].")
]
Source = Annotated[
    str, typer.Option(help="'bundle' copies the model into the image; 'registry' pulls it.")
]
Env = Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE for the container.")]
Secret = Annotated[
    list[str] | None,
    typer.Option("--secret", help="KEY=SECRET[:VERSION] from Secret Manager (Cloud Run)."),
]
DryRun = Annotated[
    bool | None,
    typer.Option(
        "--dry-run/--no-dry-run",
        help="Print the commands instead of running them [default: dry run without the tool].",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _target(
    ctx: typer.Context,
    name: str,
    project: str,
    region: str,
    image: str | None,
    output: Path | None,
    source: str,
    env: list[str] | None,
    secrets: list[str] | None = None,
    ray: bool = False,
) -> CloudTarget:
    """Package the deployment into its build folder; the target built from it."""
    from lanza.cloud.context import PackageOptions, package
    from lanza.errors import InvalidInputError

    if source not in ("bundle", "registry"):
        raise InvalidInputError(f"Unknown --source '{source}'; use bundle or registry.")
    folder = output or Path("build") / name
    options = PackageOptions(name, folder, source, overwrite=True, ray=ray)  # type: ignore[arg-type]
    package(state(ctx).workspace(), options)
    return CloudTarget(
        project,
        region,
        folder,
        image,
        parse_pairs(env or [], "--env"),
        parse_pairs(secrets or [], "--secret"),
    )


def _finish(script: Script, path: Path, files: list[Path], dry_run: bool, as_json: bool) -> None:
    """Save the script; print it (dry run) or run it."""
    script.write(path)
    commands = script.lines
    if as_json:
        print_json(
            {"dry_run": dry_run, "files": [str(f) for f in files], "script": str(path),
             "commands": commands}
        )  # fmt: skip
    else:
        if dry_run:
            console.print(f"Dry run: nothing was run. {script.title} takes:", soft_wrap=True)
        for file in files:
            console.print(f"  wrote {file}", soft_wrap=True, markup=False, highlight=False)
        console.print(f"  wrote {path}", soft_wrap=True, markup=False, highlight=False)
        if dry_run:
            console.print()
            for line in commands:
                console.print(line, soft_wrap=True, markup=False, highlight=False)
    if not dry_run:
        script.run(Path.cwd())


@run_app.command("deploy")
def run_deploy(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment to ship.")],
    project: Project,
    region: Region,
    image: Image = None,
    output: Output = None,
    source: Source = "bundle",
    concurrency: Annotated[int, typer.Option(help="Requests one instance takes at once.")] = 80,
    min_instances: Annotated[int, typer.Option(help="Instances kept warm.")] = 0,
    max_instances: Annotated[int, typer.Option(help="Most instances.")] = 10,
    cpu: Annotated[str, typer.Option(help="CPUs per instance.")] = "2",
    memory: Annotated[str, typer.Option(help="Memory per instance.")] = "4Gi",
    gpu: Annotated[int, typer.Option(help="1 for an NVIDIA L4 (needs --cpu 4 --memory 16Gi).")] = 0,
    timeout: Annotated[int, typer.Option(help="Request timeout in seconds.")] = 300,
    service_account: Annotated[str | None, typer.Option(help="Service account to run as.")] = None,
    cloudsql_instance: Annotated[
        str | None, typer.Option(help="PROJECT:REGION:INSTANCE of a Cloud SQL database.")
    ] = None,
    allow_unauthenticated: Annotated[
        bool, typer.Option(help="Let anyone call the service.")
    ] = False,
    env: Env = None,
    secret: Secret = None,
    dry_run: DryRun = None,
    json_output: Json = False,
) -> None:
    """Build the image and deploy it as a Cloud Run service.

    Example: lanza cloud run deploy fraud --project my-project --region europe-west1
    """
    from lanza.cloud import cloudrun

    options = cloudrun.CloudRunOptions(
        concurrency, min_instances, max_instances, cpu, memory, gpu, timeout,
        service_account, cloudsql_instance, allow_unauthenticated,
    )  # fmt: skip
    options.check()
    dry = decide_dry_run(dry_run, "gcloud")
    target = _target(ctx, deployment, project, region, image, output, source, env, secret)
    uri = target.image_uri(deployment)
    folder = target.deploy_folder
    service = cloudrun.write_service(
        folder / "cloudrun-service.yaml",
        cloudrun.service_manifest(deployment, uri, target, options),
    )
    script = cloudrun.deploy_script(deployment, uri, target, options, service)
    _finish(script, folder / "cloudrun-deploy.sh", [service], dry, json_output)


@run_app.command("traffic")
def run_traffic(
    deployment: Annotated[str, typer.Argument(help="The Cloud Run service.")],
    project: Project,
    region: Region,
    split: Annotated[str | None, typer.Option(help="REVISION=PERCENT,… adding up to 100.")] = None,
    to_latest: Annotated[bool, typer.Option(help="All traffic to the newest revision.")] = False,
    output: Output = None,
    dry_run: DryRun = None,
    json_output: Json = False,
) -> None:
    """Move a Cloud Run service's traffic between revisions (canary, rollback).

    Example: lanza cloud run traffic fraud --project p --region r --split fraud-2=10,fraud-1=90
    """
    from lanza.cloud import cloudrun
    from lanza.errors import InvalidInputError

    if (split is None) == (not to_latest):
        raise InvalidInputError("Pass --split REVISION=PERCENT,… or --to-latest.")
    shares = None
    if split is not None:
        pairs = parse_pairs(split.split(","), "--split")
        if not all(v.isdigit() for v in pairs.values()):
            raise InvalidInputError("Each --split share must be a whole percentage.")
        shares = {k: int(v) for k, v in pairs.items()}
    dry = decide_dry_run(dry_run, "gcloud")
    target = CloudTarget(project, region, output or Path("build") / deployment)
    script = cloudrun.traffic_script(deployment, target, shares)
    _finish(script, target.deploy_folder / "cloudrun-traffic.sh", [], dry, json_output)


@vertex_app.command("deploy")
def vertex_deploy(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment to ship.")],
    project: Project,
    region: Region,
    image: Image = None,
    output: Output = None,
    source: Source = "bundle",
    machine_type: Annotated[str, typer.Option(help="Compute Engine machine type.")] = (
        "n1-standard-4"
    ),
    accelerator: Annotated[
        str | None, typer.Option(help="e.g. nvidia-l4 or nvidia-tesla-t4.")
    ] = None,
    accelerator_count: Annotated[int, typer.Option(help="Accelerators per replica.")] = 1,
    min_replicas: Annotated[int, typer.Option(help="Fewest replicas.")] = 1,
    max_replicas: Annotated[int, typer.Option(help="Most replicas.")] = 1,
    traffic: Annotated[int, typer.Option(help="Percent of the endpoint's traffic.")] = 100,
    keep: Annotated[
        str | None, typer.Option(help="Deployed model ID that keeps the rest of the traffic.")
    ] = None,
    env: Env = None,
    dry_run: DryRun = None,
    json_output: Json = False,
) -> None:
    """Upload the container as a Vertex AI model and deploy it on an endpoint.

    Example: lanza cloud vertex deploy fraud --project p --region r --accelerator nvidia-l4
    """
    from lanza.cloud import vertex, vertex_sdk

    options = vertex.VertexOptions(
        machine_type, accelerator, accelerator_count, min_replicas, max_replicas, traffic, keep
    )
    options.traffic_split()
    dry = decide_dry_run(dry_run, "gcloud")
    target = _target(ctx, deployment, project, region, image, output, source, env)
    uri = target.image_uri(deployment)
    sdk = None if dry else vertex_sdk.load_sdk()
    if sdk is None:
        script = vertex.deploy_script(deployment, uri, target, options)
        _finish(script, target.deploy_folder / "vertex-deploy.sh", [], dry, json_output)
        return
    build = vertex.build_script(deployment, uri, target)
    _finish(build, target.deploy_folder / "vertex-build.sh", [], False, json_output)
    done = vertex_sdk.deploy(sdk, deployment, uri, target, options)
    how = "reused" if done.reused_endpoint else "created"
    console.print(f"Deployed {done.model} on endpoint {done.endpoint} ({how}).", soft_wrap=True)


@vertex_app.command("batch")
def vertex_batch(
    deployment: Annotated[str, typer.Argument(help="A deployment uploaded by 'vertex deploy'.")],
    project: Project,
    region: Region,
    input_uri: Annotated[str, typer.Option("--input", help="gs:// JSON Lines of instances.")],
    output_uri: Annotated[str, typer.Option("--output", help="gs:// prefix for predictions.")],
    machine_type: Annotated[str, typer.Option(help="Machine type.")] = "n1-standard-4",
    replicas: Annotated[int, typer.Option(help="Replicas that share the input.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Instances per request.")] = 64,
    dry_run: DryRun = None,
    json_output: Json = False,
) -> None:
    """Run a Vertex AI batch prediction job with the deployment's uploaded model.

    Example: lanza cloud vertex batch fraud --project p --region r --input gs://b/in.jsonl --output gs://b/out/
    """
    from lanza.cloud import vertex, vertex_sdk

    options = vertex.VertexBatchOptions(input_uri, output_uri, machine_type, replicas, batch_size)
    body = vertex.batch_request(deployment, options)
    dry = decide_dry_run(dry_run, "gcloud")
    target = CloudTarget(project, region, Path("build") / deployment)
    sdk = None if dry else vertex_sdk.load_sdk()
    if sdk is not None:
        job = vertex_sdk.batch_predict(sdk, deployment, target, options)
        console.print(f"Started the Vertex AI batch prediction job {job}.", soft_wrap=True)
        return
    request = vertex.write_json(target.deploy_folder / "vertex-batch-request.json", body)
    script = vertex.batch_script(deployment, target, request)
    _finish(script, target.deploy_folder / "vertex-batch.sh", [request], dry, json_output)


@gke_app.command("manifests")
def gke_manifests(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment to ship.")],
    image: Annotated[str, typer.Option(help="The image the pods run (built from the context).")],
    output: Output = None,
    source: Source = "bundle",
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace.")] = "default",
    replicas: Annotated[int, typer.Option(help="Replicas at first.")] = 2,
    min_replicas: Annotated[int, typer.Option(help="Fewest replicas (HPA).")] = 2,
    max_replicas: Annotated[int, typer.Option(help="Most replicas (HPA).")] = 10,
    target_cpu: Annotated[int, typer.Option(help="CPU utilisation the HPA aims at.")] = 70,
    cpu: Annotated[str, typer.Option(help="CPU per pod.")] = "1",
    memory: Annotated[str, typer.Option(help="Memory per pod.")] = "2Gi",
    gpu: Annotated[int, typer.Option(help="NVIDIA GPUs per pod.")] = 0,
    service_account: Annotated[str | None, typer.Option(help="Kubernetes service account.")] = None,
    batch_input: Annotated[
        str | None, typer.Option(help="Also write a RayJob scoring this input (gs://…).")
    ] = None,
    batch_output: Annotated[str | None, typer.Option(help="Where the RayJob writes.")] = None,
    batch_workers: Annotated[int, typer.Option(help="Ray workers of the RayJob.")] = 2,
    env: Env = None,
    dry_run: DryRun = None,
    json_output: Json = False,
) -> None:
    """Write Kubernetes manifests (Deployment, Service, HPA, PDB; RayJob) and apply them.

    Example: lanza cloud gke manifests fraud --image europe-west1-docker.pkg.dev/p/lanza/fraud:1
    """
    from lanza.cloud import gke
    from lanza.errors import InvalidInputError
    from lanza.serving.store import DeploymentStore

    if (batch_input is None) != (batch_output is None):
        raise InvalidInputError("Pass both --batch-input and --batch-output for a RayJob.")
    options = gke.GkeOptions(
        namespace, replicas, min_replicas, max_replicas, target_cpu, cpu, memory, gpu,
        service_account, parse_pairs(env or [], "--env"),
    )  # fmt: skip
    options.check()
    dry = decide_dry_run(dry_run, "kubectl")
    ray = batch_input is not None
    target = _target(ctx, deployment, "", "", image, output, source, env, ray=ray)
    manifests: dict[str, list[dict[str, Any]]] = {
        "serving.yaml": gke.serving_manifests(deployment, image, options)
    }
    if batch_input is not None and batch_output is not None:
        spec = DeploymentStore(state(ctx).workspace().database).get(deployment).spec
        job = gke.RayJobOptions(spec.routes[0].model, batch_input, batch_output, batch_workers)
        manifests["rayjob.yaml"] = [gke.ray_job(deployment, image, options, job)]
    files = gke.write_manifests(target.deploy_folder / "k8s", manifests)
    script = gke.apply_script(deployment, files, namespace)
    _finish(script, target.deploy_folder / "gke-apply.sh", files, dry, json_output)
