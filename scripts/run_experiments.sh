#!/usr/bin/env bash
# Re-run the experiments of docs/experiments.md, one by one or all:
#   scripts/run_experiments.sh [e1|e2|e3|e4|all]
# Each step prints JSON; the runs land in runs/ (checkpoints, metrics.csv/json, curves.png) and the
# LFW reports in docs/experiments/. Data from $FACEPRINT_DATA, else ../shared/data.
# Needs: pip install -e '.[train]'. On 2 cores: e1 ~10 min, e2 ~15 min, e3 ~35 min, e4 ~45 min.
set -euo pipefail
DATA=${FACEPRINT_DATA:-../shared/data}
FC=$DATA/five_celebrity
which=${1:-all}
train() { faceprint train run "configs/experiments/$1.yaml" "${@:2}"; }
export_model() { faceprint train export "runs/$1/${2:-best}.pt" -o "runs/$1/model.onnx"; }

if [[ $which == e1 || $which == all ]]; then
  train e1_small_cnn data="$FC/train" val_data="$FC/val"
  train e1_resnet18 data="$FC/train" val_data="$FC/val"
  faceprint classify fit "$FC/train" --validate "$FC/val" -c svm -o runs/e1_dlib_svm.npz
  train e1_dlib_finetune data="$FC/train" val_data="$FC/val"
  export_model e1_dlib_finetune
  faceprint classify fit "$FC/train" --validate "$FC/val" --model runs/e1_dlib_finetune/model.onnx \
    -c svm -o runs/e1_dlib_finetune_svm.npz
fi
if [[ $which == e2 || $which == all ]]; then
  train e2_orl_identification data="$DATA/orl"
  train e2_orl_verification data="$DATA/orl"
fi
if [[ $which == e3 || $which == all ]]; then
  train e3_dlib_orl data="$DATA/orl"
  train e3_dlib_celeba data="$DATA/celeba_dlib150/images"
  # no epoch beats the pretrained model on held-out people, so best.pt is epoch 0 (dlib itself):
  # the LFW comparison takes the fine-tuned network after epoch 1 (a 1-epoch run: same weights)
  train e3_dlib_celeba data="$DATA/celeba_dlib150/images" epochs=1 output=runs/e3_dlib_celeba_epoch1
  export_model e3_dlib_celeba_epoch1 last
  faceprint eval lfw --model dlib --model runs/e3_dlib_celeba_epoch1/model.onnx --report docs/experiments/e3_lfw
fi
if [[ $which == e4 || $which == all ]]; then
  train e4_resnet18_celeba112 data="$DATA/celeba_112/images"
  export_model e4_resnet18_celeba112
  faceprint eval lfw --model runs/e4_resnet18_celeba112/model.onnx --report docs/experiments/e4_lfw
fi
