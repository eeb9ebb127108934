"""`faceprint people ...` and `faceprint gallery add-photos`: the people of a photo library, named
or not, and the corrections that stick."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from faceprint.cli.common import emit, exit_if_nothing_done, friendly_errors, setup_logging
from faceprint.cli.gallery_cmd import GalleryOpt, VerboseOpt, _open

app = typer.Typer(
    help="The people of a photo library: list, name, merge, move faces, \"not this person\", re-cluster.\n\n"
         "Every face of each photo added with `faceprint gallery add-photos` joins a person or starts an "
         "unnamed one (\"person 17\"). Each correction is kept by new photos, by identify and by a re-cluster.\n\n"
         "Example: faceprint gallery add-photos ~/Pictures -g photos.db && faceprint people list -g photos.db "
         "&& faceprint people name 17 \"Ada Lovelace\" -g photos.db",
    no_args_is_help=True)

ThresholdOpt = typer.Option(None, "--threshold", "-t", min=0.0, max=2.0,
                            help="Clustering threshold, a distance between face vectors (default: the model's; "
                                 "lower splits more).")


def add_photos(
    inputs: list[Path] = typer.Argument(..., help="Photos and folders of photos (searched recursively)."),
    gallery: Optional[Path] = GalleryOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="Model for a new gallery (default dlib; an existing one keeps its own)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes embedding in parallel."),
    thumbnails: Optional[bool] = typer.Option(None, "--thumbnails/--no-thumbnails",
                                              help="Keep a small crop of each face (default: the gallery's "
                                                   "setting, on unless `faceprint people thumbnails off`)."),
    keep_photos: bool = typer.Option(False, "--keep-photos", help="Store the photo files in the gallery too."),
    threshold: Optional[float] = typer.Option(None, "--threshold", "-t", min=0.0, max=2.0,
                                              help="Distance under which a stored face counts as a new face's "
                                                   "neighbour (default: the model's, 0.36 for dlib; lower "
                                                   "starts more people)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    verbose: bool = VerboseOpt,
) -> None:
    """Add a photo library: EVERY face of each photo, each joining a person or starting one.

    A new face joins the person most of its nearest faces belong to (within --threshold), else it
    starts a new unnamed person ("person 17"). Two faces of one photo never
    share a person. Photos already in the gallery are skipped, so run it again after adding
    photos: only the new ones are embedded and placed, in time proportional to them.

    Examples:

        faceprint gallery add-photos ~/Pictures -g photos.db

        faceprint gallery add-photos new/ --no-thumbnails -g photos.db
    """
    from faceprint.cli.common import expand_inputs
    from faceprint.errors import BadInput

    setup_logging(verbose)
    with friendly_errors():
        missing = [str(p) for p in inputs if not p.exists()]
        if missing:
            raise BadInput(f"no such file or folder: {', '.join(missing)}")
        files = expand_inputs(inputs)
        if not files:
            raise BadInput("no photos found in the given inputs")
        with _open(gallery, create=True, model=model) as g:
            report = g.people.add_photos(files, progress=progress, workers=workers, thumbnails=thumbnails,
                                         keep_photos=keep_photos, threshold=threshold)
            document = report.to_dict()
            document.pop("face_ids")
            emit({"gallery": str(g.path), **document, "gallery_faces": len(g), "people": len(g.people.list())})
        exit_if_nothing_done(report.photos + report.skipped_duplicates, len(report.problems),
                             "not one photo went in (see problems)")


@app.command("list")
def list_(
    named: Optional[bool] = typer.Option(None, "--named/--unnamed", help="Only named, or only unnamed, people."),
    min_faces: int = typer.Option(1, "--min-faces", min=0, help="Leave out people with fewer faces."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """People, named ones first (by name), then unnamed ones (largest first).

    Each has an id (what the other commands take), a name (null while unnamed), a label (what
    identify answers: the name, or "person <id>"), its number of faces and a cover face.

    Examples:

        faceprint people list -g photos.db

        faceprint people list --unnamed --min-faces 3 -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        people = [p for p in g.people.list(named) if p.faces >= min_faces]
        emit({"gallery": str(g.path), "people": [p.to_dict() for p in people]})


@app.command()
def show(
    person: int = typer.Argument(..., help="The person's id (see `faceprint people list`)."),
    thumbnails: Optional[Path] = typer.Option(None, "--thumbnails", help="Write each face's thumbnail to this "
                                              "folder as <face id>.jpg."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """One person and their faces (id, photo, box, whether the user placed it).

    Example: faceprint people show 17 --thumbnails faces/ -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        who = g.people.get(person)
        faces = g.people.faces(person)
        written = 0
        if thumbnails is not None:
            thumbnails.mkdir(parents=True, exist_ok=True)
            for face in faces:
                jpeg = g.people.thumbnail(face.id)
                if jpeg:
                    (thumbnails / f"{face.id}.jpg").write_bytes(jpeg)
                    written += 1
        document = {"gallery": str(g.path), **who.to_dict(), "face_list": [f.to_dict() for f in faces]}
        if thumbnails is not None:
            document["thumbnails_written"] = written
        emit(document)


@app.command()
def name(
    person: int = typer.Argument(..., help="The person's id."),
    new_name: str = typer.Argument(..., metavar="NAME", help="Their name (one line; not 'unknown' or 'person <number>')."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Name an unnamed person, or rename a named one.

    A name another person has is refused: merge the two instead.

    Example: faceprint people name 17 "Ada Lovelace" -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({"gallery": str(g.path), **g.people.name(person, new_name).to_dict()})


@app.command()
def merge(
    into: int = typer.Argument(..., help="The person to keep."),
    others: list[int] = typer.Argument(..., help="The people merged into it."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Merge people into one (the first keeps its id; its name, else a merged one's).

    A face marked "not this person" for one of them, or a second face of one photo, goes to a
    new unnamed person instead.

    Example: faceprint people merge 17 23 41 -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({"gallery": str(g.path), **g.people.merge(into, others).to_dict()})


@app.command()
def move(
    faces: list[int] = typer.Argument(..., help="Face ids (see `faceprint people show`)."),
    to: Optional[int] = typer.Option(None, "--to", help="The person they go to; leave out to split them off "
                                     "into a new unnamed person."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Move faces to another person, or split them off into a new one.

    Examples:

        faceprint people move 120 121 --to 17 -g photos.db

        faceprint people move 120 121 -g photos.db        # a new unnamed person
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({"gallery": str(g.path), **g.people.move(faces, to).to_dict()})


@app.command("not-this")
def not_this(
    face: int = typer.Argument(..., help="The face id."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Say a face is not its person: it leaves them for good.

    It goes to a new unnamed person, and no new photo, identify, merge or re-cluster puts it back
    with them.

    Example: faceprint people not-this 120 -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        before = g.people.face(face)
        g.people.not_this_person(face)
        after = g.people.face(face)
        emit({"gallery": str(g.path), "face": face, "not_person": before.person_id, "now_person": after.person_id})


@app.command("delete-face")
def delete_face(
    face: int = typer.Argument(..., help="The face id."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Remove one face from the gallery (an unnamed person left without faces goes too).

    Example: faceprint people delete-face 120 -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        g.people.delete_face(face)
        emit({"gallery": str(g.path), "deleted_face": face, "faces": len(g)})


@app.command()
def recluster(
    threshold: Optional[float] = ThresholdOpt,
    gallery: Optional[Path] = GalleryOpt,
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    verbose: bool = VerboseOpt,
) -> None:
    """Cluster every face again, keeping every name and correction.

    Faces you placed (enrolled by name, named, moved, merged) stay with their person and pull
    their cluster along; "not this person" holds; people keep their ids where the clustering
    agrees. Applied in one step: an interrupted re-cluster changes nothing.

    Example: faceprint people recluster --threshold 0.36 -g photos.db
    """
    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        emit({"gallery": str(g.path), **g.people.recluster(threshold, progress=progress).to_dict()})


@app.command("thumbnails")
def thumbnails_setting(
    state: Optional[str] = typer.Argument(None, metavar="[on|off]", help="Keep face thumbnails from now on, or not; "
                                          "leave out to see the setting."),
    gallery: Optional[Path] = GalleryOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Whether enrol and add-photos keep a small crop (96 px JPEG) of each face (on by default).

    The photos themselves are kept only with --keep-photos.

    Example: faceprint people thumbnails off -g photos.db
    """
    from faceprint.errors import BadInput

    setup_logging(verbose)
    with friendly_errors(), _open(gallery) as g:
        if state is not None:
            if state.lower() not in ("on", "off"):
                raise BadInput(f"say on or off, not {state!r}")
            g.people.thumbnails = state.lower() == "on"
        emit({"gallery": str(g.path), "thumbnails": "on" if g.people.thumbnails else "off"})
