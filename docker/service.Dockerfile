FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY telephony telephony
COPY agent_ui agent_ui
# Editable: the web app serves agent_ui/ from beside the package.
RUN pip install --no-cache-dir -c constraints.txt -e .
CMD ["telephony", "serve"]
