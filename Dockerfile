# The fake as a service container, for CI jobs whose code under test runs in another container (docker compose,
# GitHub Actions or GitLab CI `services:`; docs/how-to/ci-services.md has the recipes).
#   docker build -t edenfake .
#   docker run --rm -p 8000:8000 edenfake
# Other clients reach it as http://edenfake:8000/v3 (the service name, allowed below) or, with -p, as
# http://localhost:8000/v3. Build another release with --build-arg EDENFAKE='edenfake[standard]==X.Y'.
FROM python:3.12-slim

ARG EDENFAKE="edenfake[standard]"
RUN pip install --no-cache-dir --disable-pip-version-check "$EDENFAKE" \
    && useradd --create-home --uid 10001 edenfake
USER edenfake

EXPOSE 8000
# No curl in slim images: Python's own urllib asks /healthz, and exits 1 unless it answers 200.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

# Bind every interface of the container (serve warns that this reaches beyond loopback: inside a container it
# is what makes the port reachable), and answer the Host name the recipes give the service.
ENTRYPOINT ["edenfake", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000", "--allowed-host", "edenfake"]
