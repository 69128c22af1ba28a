"""Spend control: a mapped generate capped per image and checked against the quota, then the bill.

Every image may cost at most ``max_ai_credits``; ``check_quota`` reads the remaining AI credits before
each purchase. The last task sums ``ai_credits_used`` from XCom and compares it with Pictory's ledger.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator

PROMPTS = [
    "A paper boat on a rainy street, watercolor",
    "A lighthouse under the northern lights",
    "A bowl of ramen seen from above, flat illustration",
]


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
)
def example_pictory_budget():
    # --8<-- [start:guarded]
    images = PictoryGenerateImageOperator.partial(
        task_id="generate",
        model="flux-schnell",  # 0.6 AI credits per image
        max_ai_credits=1,  # refuse, before any request, anything estimated above 1 credit
        check_quota=True,  # read the quota first; refuse if the remaining credits cannot pay
        max_active_tis_per_dag=1,  # one purchase at a time: the quota check sees the previous debit
        poll_interval=5,
        retries=0,
    ).expand(prompt=PROMPTS)
    # --8<-- [end:guarded]

    # --8<-- [start:bill]
    @task
    def compare_with_ledger(results, dag_run=None) -> dict:
        from pictory_provider.hooks.pictory import PictoryHook

        results = results[:]  # one request; iterating would end on an "XCom not found" ERROR line
        spent = round(sum(result["ai_credits_used"] for result in results), 4)
        started = pendulum.instance(dag_run.start_date)
        now = pendulum.now("UTC")
        hook = PictoryHook()
        rows = hook.get_ai_credit_usage(year=now.year, month=now.month)
        if (started.year, started.month) != (now.year, now.month):  # the run crossed a month boundary
            rows += hook.get_ai_credit_usage(year=started.year, month=started.month)
        # Pictory's ledger rows carry no job id: count the debits made since this run started.
        billed = round(sum(row.amount for row in rows if row.is_debit and row.transaction_date >= started), 4)
        if billed != spent:
            print(f"WARNING: XCom says {spent} AI credits, the ledger {billed} (other spend since {started}?)")
        quota = hook.get_quota()
        print(f"{len(results)} images: {spent} AI credits (ledger {billed}); {quota.ai_credits_remaining} remain")
        return {"xcom_total": spent, "ledger_total": billed, "remaining": quota.ai_credits_remaining}

    compare_with_ledger(images.output)
    # --8<-- [end:bill]


example_pictory_budget()
