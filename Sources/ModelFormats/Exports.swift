// Writers of every format use FileIO's atomic writes; users of ModelFormats get them too.
@_exported import FileIO
