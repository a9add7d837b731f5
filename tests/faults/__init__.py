"""The fault suite: the real local stack serving oc02 and oc05, a ledgered workload through the public
interfaces, a fault schedule (SIGKILLed services, a killed Kafka broker, a crashed PostgreSQL, consumer
group churn), and a comparison of the ledger with what the system shows. See docs/faults.md.

    python -m tests.faults [--short] [--brokers 1|3] [--seed N] [--commands N] [--keep]
"""
