"""The Pictory view in Airflow's UI (Airflow >= 3.1): a task instance tab and a gallery page.

- :mod:`pictory_provider.ui.plugin`: the Airflow plugin (``airflow.plugins`` entry point); light, and
  empty on Airflow < 3.1;
- :mod:`pictory_provider.ui.gallery`: pure functions from Airflow's records (XCom rows, asset events,
  rendered fields) to outputs, filters and the AI-credit spend;
- :mod:`pictory_provider.ui.pages`: the server-rendered HTML, in Airflow's look (:mod:`pictory_provider.ui.theme`);
- :mod:`pictory_provider.ui.records`: what the views read from Airflow's tables (XCom, asset events,
  rendered fields);
- :mod:`pictory_provider.ui.files`: which stored files the views may serve;
- :mod:`pictory_provider.ui.app`: the FastAPI app the api-server mounts under ``/pictory`` (database
  reads and Airflow's authorization; imported only by the api-server).
"""
