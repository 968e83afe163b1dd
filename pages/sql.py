"""SQL & analyses page (work in progress)."""

import streamlit as st

st.title("SQL & analyses")
st.info("Coming soon.")
