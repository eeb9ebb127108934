"""Work beyond one process (extra: pip install 'faceprint[scale]'): a Ray Data pipeline that
indexes a folder of photos into Parquet (`ray_index.index_photos`, `faceprint index`), and its
Parquet reader (`parquet_io.read_index`). Importing this package imports neither Ray nor pyarrow."""
