"""Training jobs around the trainers of :mod:`explorer.training`: run folders and their liveness, the engine and
its steps, the job manager, the supervisor and the child process a job trains in, and the packaging of a
finished run for download.

- :mod:`explorer.jobs.runs`: run folders on disk (config, status, events, evaluation), written atomically.
- :mod:`explorer.jobs.liveness`: whether the process owning a run is still alive.
- :mod:`explorer.jobs.execute`: the engine, one run as a list of steps (:mod:`explorer.jobs.steps`).
- :mod:`explorer.jobs.manager`: a FIFO queue of job bodies, per-workspace limits, time limits, snapshots.
- :mod:`explorer.jobs.supervisor`: submits a run and follows the child process that trains it;
  :mod:`explorer.jobs.child` is that process (at a lower priority); :mod:`explorer.jobs.protocol`, what
  the two share.
- :mod:`explorer.jobs.packaging`: a finished run zipped for download (model, ONNX export, model card).
"""
