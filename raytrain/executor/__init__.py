"""Warm trial executors: long-lived Ray Train worker groups that serve trial after trial.

`raytrain tune` with `resources.executor: warm` (the default) starts, once per search, one
slot per concurrent trial: a `TorchTrainer.fit()` whose ranks loop over trials instead of
running one (`raytrain.trial.serve`). The Tune trials are thin `WarmTrial` actors that lease
a slot from the `ExecutorPool` actor and drive it an epoch per `step()`:

    Tune trial (WarmTrial) --lease/send--> ExecutorPool --command log--> slot ranks
                      <----- reply (epoch metrics, checkpoint) ------  (rank 0)

`protocol` holds the messages, `pool` the actor, `slot` one slot's TorchTrainer, and
`trainable` the Tune side. `resources.executor: fresh` keeps the TorchTrainer per trial
(`raytrain.tune.trainable`).
"""
