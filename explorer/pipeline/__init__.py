"""The end-to-end steps the one-click demo, the pages and scripts share.

Each step takes plain values and returns plain values (datasets, encoders, results, data frames); none
knows about Streamlit, so a notebook can replay what the app does. Heavy libraries are imported inside the
functions. The steps:

1. :func:`load_dataset` / :func:`save_upload` / :func:`table_preview`: a dataset choice -> Dataset.
2. :func:`load_encoder`, :func:`evaluate`: an encoder's retrieval result (the baseline's, on the pages).
3. :func:`negatives` (weak and/or hard, guarded), :func:`mine_negatives` / :func:`save_audit`: audited and
   saved in the workspace.
4. :func:`training_config` (parameters resolved once), then :func:`train` (foreground, the CLI) or
   :func:`start_training` (a background job, the app); :func:`job_view`, :func:`list_runs`: jobs and runs.
5. :func:`compared_pair` / :func:`choose_pair`: which two models (baseline, runs, stored models) the pages
   compare; :func:`run_bakeoff` / :func:`stored_bakeoff`: which model? (every chosen model on the same split).
6. :func:`compare`, :func:`similarity`, :func:`projection`, :func:`search`: what changed; a finished run's
   stored results (:func:`run_results`) give :func:`pair_comparison` without loading a model.
7. :func:`check_generalization`: what it cost elsewhere (both models on a second dataset, stored with the run).
"""

from explorer.pipeline.compared import (
    BASELINE,
    ComparedPair,
    choose_pair,
    compared_pair,
    describe_run,
    model_key,
    model_spec,
    run_label,
    run_labels,
)
from explorer.pipeline.names import MAX_NAME_CHARS, api_model, file_safe, generated_name, rename_run, run_name
from explorer.pipeline.models import bakeoff_choices, models_dir, run_bakeoff, run_spec, stored_bakeoff, stored_models
from explorer.pipeline.data import (
    apply_exclusions,
    evaluate,
    is_table,
    load_dataset,
    load_encoder,
    mine_negatives,
    negatives,
    negatives_path,
    save_audit,
    save_upload,
    saved_negatives,
    table_preview,
)
from explorer.pipeline.generalization import check_generalization, stored_checks
from explorer.pipeline.stored import (
    StoredSide,
    base_model_name,
    example_queries,
    pair_comparison,
    query_id_of,
    run_results,
    stored_pair,
    stored_results,
)
from explorer.pipeline.training import (
    JobView,
    RunInfo,
    cancel_job,
    demo_config,
    job_view,
    list_runs,
    make_job_manager,
    run_folder,
    run_selection,
    run_zip,
    start_training,
    train,
    training_config,
    tuned_run_id,
    workspace_jobs,
)
from explorer.pipeline.search import index_soon, indexing, search
from explorer.pipeline.views import (
    Neighbourhoods,
    TrainingFrames,
    compare,
    neighbourhoods,
    projection,
    similarity,
    training_frames,
)

__all__ = [
    "BASELINE", "ComparedPair", "check_generalization", "choose_pair", "compared_pair", "run_label", "stored_checks",
    "JobView", "Neighbourhoods", "RunInfo", "TrainingFrames", "training_frames", "apply_exclusions", "evaluate", "cancel_job", "compare", "demo_config",
    "is_table", "job_view", "list_runs", "load_dataset", "load_encoder", "make_job_manager", "mine_negatives", "negatives", "neighbourhoods",
    "negatives_path", "projection", "run_folder", "run_selection", "run_zip", "save_audit", "save_upload", "saved_negatives",
    "search", "index_soon", "indexing", "similarity", "StoredSide", "base_model_name", "pair_comparison", "run_results", "stored_pair",
    "stored_results", "describe_run", "model_key", "model_spec", "run_labels", "MAX_NAME_CHARS", "api_model", "file_safe", "generated_name", "rename_run", "run_name", "bakeoff_choices", "models_dir",
    "run_bakeoff", "run_spec", "stored_bakeoff", "stored_models", "example_queries", "query_id_of", "start_training", "train", "training_config", "table_preview", "tuned_run_id", "workspace_jobs",
]
