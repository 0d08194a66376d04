"""The only Streamlit-aware part of the package: session state and cached resources (:mod:`.state`), page
scaffolding (:mod:`.guard`, :mod:`.navigation`, :mod:`.sidebar`), the live job panel (:mod:`.jobs`), chart
builders with the shared palette (:mod:`.charts`, :mod:`.latent`) and page sections (:mod:`.datasets`,
:mod:`.negatives`, :mod:`.training`, :mod:`.results`, :mod:`.rankings`, :mod:`.report`, :mod:`.demo`)."""
