"""The development harness: local rehearsal and end-to-end runs, not needed on a deployment.

    demo         `patchflow demo` (`make demo`): a whole rollout on fleetsim through `airflow dags test`
    standalone   `patchflow standalone` (`make airflow`): fleetsim plus `airflow standalone`, to click through
    distributed  `patchflow e2e-distributed` (`make e2e-distributed`): the demo rollout on Airflow's
                 distributed topology, started natively and checked through the REST API; its parts:
        processes    every process it starts, stopped by PID
        services     PostgreSQL and Redis, installed when missing, started on loopback
        topology     the Airflow processes and the settings they share
        airflow_api  driving the run through /api/v2
        checks       pure checks over what the API and the ledger showed

A deployment runs the DAGs, the operators and the UI plugin, and none of them imports this
package; only docker-compose.yaml's fleetsim setup borrows `demo.prepare_aws`.
"""
