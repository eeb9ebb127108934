"""One router per resource: images (detect, embed, verify), identify, subjects, faces, health."""
