/* REST handlers of the image registry (region/api/images.c; docs/deploy.md,
 * "Images"). */
#pragma once

struct api_call;

/* GET /images (the list), POST /images (a new image, status uploading). */
void api_images(struct api_call *call);
/* GET /images/{name}, DELETE /images/{name} (refused while a machine is
 * DEPLOYING with it). */
void api_image(struct api_call *call);
/* PUT /images/{name}/data: one chunk at Content-Range (or "bytes *\/SIZE"
 * to finish). Runs on the loop (API_RUN_LOOP) because it reads the
 * Content-Range header; its database work and the file I/O go to jobs. */
void api_image_data(struct api_call *call);
