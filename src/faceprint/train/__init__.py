"""Training and fine-tuning (extra: pip install 'faceprint[train]', PyTorch 2.13 CPU).

Backbones -> embedding; heads own class weights; margin losses only rewrite logits; miners are
separate from the triplet loss; a P x K sampler feeds triplet batches.
"""
