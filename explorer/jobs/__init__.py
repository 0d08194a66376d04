"""Training jobs around the trainers of :mod:`explorer.training`: run folders and their liveness, the job body,
the job manager, the child process a job trains in, and the packaging of a finished run for download.

- :mod:`explorer.jobs.runs`: run folders on disk (config, status, events, evaluation), written atomically.
- :mod:`explorer.jobs.liveness`: whether the process owning a run is still alive.
- :mod:`explorer.jobs.execute`: the job body (baseline, mining, training, evaluation) for one run folder.
- :mod:`explorer.jobs.manager`: a FIFO queue of job bodies, per-workspace limits, time limits, snapshots.
- :mod:`explorer.jobs.process`: a job trained in a child process at a lower priority.
- :mod:`explorer.jobs.packaging`: a finished run zipped for download (model, ONNX export, model card).
"""
