/* xfind: the X11 window whose _NET_WM_NAME or WM_NAME contains a part of a
 * title, for the SDL tests' small X tools (xclose.c, xkey.c). */
#ifndef METERSIM_TESTS_XFIND_H
#define METERSIM_TESTS_XFIND_H

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <string.h>

static int has_title(Display *d, Window w, Atom prop, const char *part)
{
    Atom type;
    int format;
    unsigned long n, left;
    unsigned char *data = NULL;
    int found = 0;
    if (XGetWindowProperty(d, w, prop, 0, 1024, False, AnyPropertyType, &type, &format, &n, &left,
                           &data) == Success &&
        data) {
        if (format == 8 && strstr((const char *)data, part))
            found = 1;
        XFree(data);
    }
    return found;
}

/* Depth-first through the tree under `w`; 0 if none. */
static Window find(Display *d, Window w, Atom net_name, const char *part)
{
    if (has_title(d, w, net_name, part) || has_title(d, w, XA_WM_NAME, part))
        return w;
    Window root, parent, *kids = NULL;
    unsigned int n = 0;
    Window hit = 0;
    if (XQueryTree(d, w, &root, &parent, &kids, &n)) {
        for (unsigned int i = 0; i < n && !hit; i++)
            hit = find(d, kids[i], net_name, part);
        if (kids)
            XFree(kids);
    }
    return hit;
}

#endif
