"""Airflow plugin: the Patch rollouts page (Browse menu) and the rollout operators' extra links.

Registered through the package's `airflow.plugins` entry point (pyproject.toml), so Airflow
finds it wherever patchflow is installed; the plugins folder holds no copy of it.

The page is a FastAPI app mounted on the API server at /rollouts and shown
inside the Airflow UI as an external view (an iframe at /plugin/patch-rollouts).
Plugin apps get no Airflow auth of their own: patchflow.ui.app checks the
caller's Airflow session itself. Plugin changes need an API server restart.

Extra links are declared on the operators (patchflow.rollout.wave and patchflow.rollout.stage), which
is what makes Airflow 3 compute them in the worker and store each URL as an
XCom; they are registered here too so `airflow plugins` lists them. They name
no `operators`, so the API server keeps serving the stored URLs.
"""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from patchflow.rollout.links import RolloutReportLink, SsmCommandConsoleLink
from patchflow.ui.app import create_app


class PatchRolloutsPlugin(AirflowPlugin):
    name = "patch_rollouts"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/rollouts", "name": "Patch rollouts"}]
    external_views = [
        {
            "name": "Patch rollouts",
            "href": "rollouts/",
            "icon": "rollouts/icon.svg",
            "destination": "nav",
            "category": "browse",
            "url_route": "patch-rollouts",
        }
    ]
    operator_extra_links = [SsmCommandConsoleLink(), RolloutReportLink()]
