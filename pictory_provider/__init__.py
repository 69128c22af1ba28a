"""Apache Airflow provider for Pictory's AI Studio API."""

__version__ = "0.1.0"
