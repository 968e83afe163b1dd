"""Streamlit helpers the pages share (besides pages/, the only package that imports streamlit)."""
