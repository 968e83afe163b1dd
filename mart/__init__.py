"""TechMart Mart Explorer domain package.

Everything the app does lives here, free of Streamlit: datasets (versions, loading,
generation), builds (write-audit-publish dbt runs), artifacts (manifest/run_results
parsing), the query sandbox, and the figures the pages render.
"""

__version__ = "0.1.0"
