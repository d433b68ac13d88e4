# All toolchains + codealign, for CI and cluster nodes. The image is built by the same script a developer
# runs (scripts/setup.sh), so both get the same pinned toolchains.
#   docker build -t codealign .
#   docker run --rm codealign doctor
# Torch: inside the image the CPU wheel comes from PyTorch's CPU index (a plain PyPI torch is a CUDA build).
FROM python:3.11-slim-bookworm
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_EXTRA_INDEX_URL=${TORCH_INDEX} \
    PYTHON=/usr/local/bin/python3.11 \
    OMP_NUM_THREADS=1 \
    HF_HUB_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends bash util-linux ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/codealign
COPY . .
RUN bash scripts/setup.sh
ENV PATH=/opt/codealign/.venv/bin:${PATH}
ENTRYPOINT ["codealign"]
CMD ["doctor"]
