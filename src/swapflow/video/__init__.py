"""Video in and out, one module a job.

- ``ffmpeg``: finding and running the ffmpeg binary, reading a video's header
  and ffmpeg's log lines; ``VideoError``.
- ``probe``: the probe record of a split, and the content hashes and stats
  that tell when its source changed.
- ``split``: a video, or a folder of stills, into frame files and a probe.
- ``merge``: frame files back into a video with the source's timing and audio.
- ``read``: the frames of an encoded video, from one decode read forward.
"""
